"""Admin screens for campaigns and segments."""
