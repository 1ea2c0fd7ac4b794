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
  description = "The log group the server's structured session logs land in."
  value       = aws_cloudwatch_log_group.sessions.name
}

output "logging" {
  description = "Where session logs go: structured destinations, and with a logging role its log group and policy (for tests and reviews)."
  value = {
    structured_log_destinations = aws_transfer_server.this.structured_log_destinations
    sessions_log_group          = { name = aws_cloudwatch_log_group.sessions.name, arn = aws_cloudwatch_log_group.sessions.arn }
    logging_role                = aws_transfer_server.this.logging_role
    logging_role_log_group      = var.logging_role ? aws_cloudwatch_log_group.logging_role[0].name : null
    logging_role_policy         = var.logging_role ? aws_iam_role_policy.logging[0].policy : null
  }
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

output "settings" {
  description = "The server's and users' security-relevant settings (for tests and reviews)."
  value = {
    endpoint_type        = aws_transfer_server.this.endpoint_type
    security_policy_name = aws_transfer_server.this.security_policy_name
    set_stat_option      = one(aws_transfer_server.this.protocol_details).set_stat_option
    ingress_cidrs        = flatten([for r in aws_security_group.endpoint.ingress : r.cidr_blocks])
    ingress_ports        = distinct(flatten([for r in aws_security_group.endpoint.ingress : [r.from_port, r.to_port]]))
    users = {
      for name, u in aws_transfer_user.this : name => {
        home_directory_type = u.home_directory_type
        home_directory      = u.home_directory
        mappings            = [for m in u.home_directory_mappings : { entry = m.entry, target = m.target }]
        session_policy      = u.policy
        keys                = length([for k in aws_transfer_ssh_key.this : k if k.user_name == name])
      }
    }
  }
}

output "resource_names" {
  description = "The name of every named resource of this module (the server and Elastic IPs by their Name tag)."
  value = merge(
    {
      "security_group.sftp"  = aws_security_group.endpoint.name
      "log_group.sessions"   = aws_cloudwatch_log_group.sessions.name
      "iam_role.sftp_access" = aws_iam_role.access.name
      "transfer_server"      = aws_transfer_server.this.tags["Name"]
    },
    { for i, e in aws_eip.endpoint : "eip.${i}" => e.tags["Name"] },
    { for r in aws_iam_role.logging : "iam_role.logging" => r.name },
  )
}

output "trust_policies" {
  description = "The roles' trust policies (for tests and reviews)."
  value       = merge({ access = aws_iam_role.access.assume_role_policy }, { for r in aws_iam_role.logging : "logging" => r.assume_role_policy })
}
