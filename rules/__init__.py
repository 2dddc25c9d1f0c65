"""outguard's shipped default rule files (data, not code); sites extend them in local.d/override.d."""
