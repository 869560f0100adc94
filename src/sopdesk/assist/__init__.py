"""Offline assistance: routing, knowledge search, inquiry discovery, SOP drafting."""
