terraform {
  # 1.9+: variable validations that refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Only 5.100 is tested (the mirror, the plan tests, the emulator applies): ~> 5.100 takes its
      # fixes and refuses 6.x until it is tested too. `make lock` records the hashes of what init picks.
      version = "~> 5.100"
    }
  }
}
