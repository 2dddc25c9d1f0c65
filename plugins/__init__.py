"""outguard's built-in checks, registered through the same `outguard` entry points as any plugin."""
