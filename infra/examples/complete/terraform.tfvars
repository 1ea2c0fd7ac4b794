region          = "eu-west-1"
name            = "partner-intake"
vpc_id          = "vpc-0a1b2c3d4e5f67890"
subnet_ids      = ["subnet-0a1b2c3d4e5f67890", "subnet-0f9e8d7c6b5a43210"]
allowed_cidrs   = ["203.0.113.0/24", "198.51.100.17/32"]
internet_facing = true
lambda_zip_path = "../../../target/lambda/copy-lambda/bootstrap.zip"
kms_key_arn     = null

users = {
  acme = {
    ssh_public_keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl acme-laptop",
      "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= acme-ci",
    ]
  }
  globex = {
    ssh_public_keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHAnlWDmE8gKqPpJcXH7H2mW6w3Y2p0gS0mQz2d0mJ1a globex-sftp",
    ]
  }
}

tags = {
  Owner      = "platform-team"
  CostCenter = "intake"
}
