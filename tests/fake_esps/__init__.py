"""Fake ESPs: real HTTP servers on loopback that follow each vendor's documented contract."""
