terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.95.0, < 6.0.0" # TransferSecurityPolicy-2025-03 needs 5.95.0+ (provider PR #42167)
    }
  }
}
