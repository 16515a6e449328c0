"""Decode COCO's compressed RLE counts string, strictly, to check it before pycocotools does.

pycocotools trusts the string: one that ends inside a count makes it read past the
string's end, and counts that do not add up to height x width make it decode into
memory it never wrote (a different random mask on every run). cocoad decodes the string
itself (see docs/cocoad.md, "Validation") and refuses anything malformed.

The format, as pycocotools writes it: each count is split into 5-bit groups, least
significant first; each group is written as the character chr(48 + group), with bit
0x20 set on every group of the count but the last, whose bit 0x10 is the sign (the
value is negative when set). From the fourth count on, what is written is the
difference to the count two places before.
"""

from __future__ import annotations

FIRST_CHAR = 48  # "0"
CONTINUE_BIT = 0x20
SIGN_BIT = 0x10
MAX_GROUPS = 7  # 35 bits: more than any count below 2**32 needs
MAX_COUNT = 2**32 - 1  # pycocotools stores counts as uint32


def decode_counts(text: str) -> list[int]:
    """The run lengths a compressed counts string encodes; ValueError saying what is wrong."""
    counts: list[int] = []
    value = groups = 0
    for position, char in enumerate(text):
        code = ord(char) - FIRST_CHAR
        if not 0 <= code < 64:
            raise ValueError(f"character {char!r} at position {position} is not an RLE character")
        value |= (code & 0x1F) << (5 * groups)
        groups += 1
        if code & CONTINUE_BIT:
            if groups == MAX_GROUPS:
                raise ValueError(f"the count ending at position {position} is too long")
            continue
        if code & SIGN_BIT:
            value -= 1 << (5 * groups)
        if len(counts) > 2:
            value += counts[-2]
        if not 0 <= value <= MAX_COUNT:
            raise ValueError(f"count {len(counts)} decodes to {value}, outside 0..{MAX_COUNT}")
        counts.append(value)
        value = groups = 0
    if groups:
        raise ValueError("the string ends inside a count")
    return counts
