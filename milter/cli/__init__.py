"""The command-line face: one module per command, registered in `outguard.cli.main`."""
