"""Reads of campaigns and segments."""
