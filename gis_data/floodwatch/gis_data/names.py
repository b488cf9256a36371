"""Names: an ASCII form of Vietnamese names, for search and for systems that cannot show
diacritics (SMS gateways, file names)."""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def ascii_name(name: str) -> str:
    """``"Phú Ốc"`` → ``"Phu Oc"``, ``"Đông Hà"`` → ``"Dong Ha"``."""
    decomposed = unicodedata.normalize("NFD", name.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slug(name: str) -> str:
    """``"Sông Hữu Trạch"`` → ``"song-huu-trach"``."""
    return re.sub(r"[^a-z0-9]+", "-", ascii_name(name).lower()).strip("-")
