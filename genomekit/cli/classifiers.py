"""Commands: placeholder until this module lands."""
