"""Python tools behind the Make targets: packaging, variables, policy gate, Terraform driver, emulator."""
