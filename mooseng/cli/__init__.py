"""The admin CLI `mooseng` (entry point mooseng.cli.main:main)."""
