"""What the operator and the users wrote: config.toml and users_dir, read, checked, edited."""
