"""Words that mark a run of capitalised words as a company's name (see organisations.py).

Kept apart so that ``vocab`` can scan for them in the same pass as the vocabulary's
own names: one scan of the text finds both.
"""

from __future__ import annotations

# Legal words: part of how the name is written, not of the name ("Moore Threads
# Technology Co." is Moore Threads).
LEGAL = frozenset(
    {"Inc", "Corp", "Corporation", "Co", "Ltd", "Limited", "LLC", "PLC", "plc", "AG", "Group",
     "Holdings", "Technologies", "Technology"}
)  # fmt: skip
# Business words that end a company's name and belong to it ("Horizon Robotics").
BUSINESS = frozenset(
    {"Labs", "Systems", "Semiconductor", "Semiconductors", "Microelectronics", "Electronics",
     "Motors", "Networks", "Robotics", "Ventures", "Capital", "Securities", "Bank"}
)  # fmt: skip
SUFFIXES = LEGAL | BUSINESS
