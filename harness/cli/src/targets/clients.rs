//! The AWS SDK clients the checks use, pointed at a target's endpoints.

use aws_credential_types::Credentials;

/// Clients for every service a check reads.
#[derive(Clone)]
pub struct Clients {
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// SQS (the rule's dead-letter queue).
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Clients from the standard credential chain and profiles, or `None` when it yields no
    /// credentials (a partner without AWS access).
    pub async fn from_environment(region: &str) -> Option<Self> {
        use aws_credential_types::provider::ProvideCredentials;
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(copy_lambda::http::client())
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        conf.credentials_provider()?.provide_credentials().await.ok()?;
        // A local AWS-compatible endpoint (AWS_ENDPOINT_URL) serves buckets by path, not by host.
        let s3 = aws_sdk_s3::config::Builder::from(&conf).force_path_style(conf.endpoint_url().is_some()).build();
        Some(Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            sfn: aws_sdk_sfn::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            sqs: aws_sdk_sqs::Client::new(&conf),
        })
    }

    /// Clients for an AWS-compatible endpoint with static credentials.
    pub fn for_endpoint(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> Self {
        Self::split(endpoint, endpoint, region, access_key, secret_key)
    }

    /// S3 and DynamoDB at `data`, Step Functions and Logs at `control`.
    pub fn split(data: &str, control: &str, region: &str, access_key: &str, secret_key: &str) -> Self {
        let data = Self::config(data, region, access_key, secret_key);
        let control = Self::config(control, region, access_key, secret_key);
        let s3 = aws_sdk_s3::config::Builder::from(&data).force_path_style(true).build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::new(&data),
            sfn: aws_sdk_sfn::Client::new(&control),
            logs: aws_sdk_cloudwatchlogs::Client::new(&control),
            sqs: aws_sdk_sqs::Client::new(&control),
        }
    }

    fn config(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(copy_lambda::http::client())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                Credentials::from_keys(access_key, secret_key, None),
            ))
            .build()
    }
}
