"""Rule files: YAML with lines, layered loading (shipped, local.d, override.d),
conditions, actions, the decision over findings, lint and the rules' own tests."""
