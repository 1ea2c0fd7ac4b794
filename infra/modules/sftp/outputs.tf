output "server_id" {
  description = "Transfer Family server id."
  value       = aws_transfer_server.this.id
}

output "endpoint" {
  description = "SFTP host name."
  value       = aws_transfer_server.this.endpoint
}

output "host_key_fingerprint" {
  description = "SHA256 fingerprint of the server's host key."
  value       = aws_transfer_server.this.host_key_fingerprint
}

output "log_group" {
  description = "Session log group."
  value       = aws_cloudwatch_log_group.sessions.name
}

output "elastic_ips" {
  description = "Public addresses when internet facing."
  value       = aws_eip.endpoint[*].public_ip
}

output "users" {
  description = "User names."
  value       = sort(keys(var.users))
}

output "access_role_policy" {
  description = "The shared access role's policy document."
  value       = aws_iam_role_policy.access.policy
}
