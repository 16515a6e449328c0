"""leaderboard: the results CSV (one row per run), its validation and rendering."""
