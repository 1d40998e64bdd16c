"""The `animus` command line: parsing, rendering, exit codes. No business logic lives here."""
