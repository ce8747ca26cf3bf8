"""Engines: the only code that turns the target model into SQL."""
