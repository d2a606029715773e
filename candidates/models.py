"""Candidate profiles (the registration wizard and its review come in their own change)."""
