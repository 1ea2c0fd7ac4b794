//! Where a run goes, as the command line says it: the flags every running command shares, and
//! the [`TargetSpec`] they name.

use std::path::PathBuf;

use anyhow::Context;

use super::{Kind, Paths, TargetSpec};

/// `--target` and what goes with it: shared by scenarios, load and benchmarks.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Where to run: the embedded simulator, or a deployed stack.
    #[arg(long, global = true, value_enum, default_value_t = Kind::Embedded)]
    pub target: Kind,
    /// With --target aws: the stack's outputs document (`terraform output -json`).
    #[arg(long, global = true, value_name = "PATH")]
    pub stack: Option<PathBuf>,
    /// With --target endpoint: the AWS-compatible endpoint (default: AWS_ENDPOINT_URL).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// With --target endpoint: create the buckets and the table there first.
    #[arg(long, global = true)]
    pub provision: bool,
    /// With --target aws: an SFTP account `NAME=PRIVATE_KEY_FILE` (repeat for each scenario user).
    #[arg(long = "user", global = true, value_name = "NAME=KEYFILE")]
    pub users: Vec<String>,
}

impl TargetArgs {
    /// The target these flags name; `--target localstack` starts LocalStack here.
    pub fn spec(&self, paths: Paths) -> anyhow::Result<TargetSpec> {
        Ok(match self.target {
            Kind::Embedded => TargetSpec::Embedded(paths),
            Kind::Aws => {
                let stack = self
                    .stack
                    .clone()
                    .context("--target aws needs --stack outputs.json (terraform output -json of infra/)")?;
                TargetSpec::Aws { stack, users: self.accounts()? }
            }
            Kind::Endpoint => TargetSpec::Endpoint {
                paths,
                endpoint: self
                    .endpoint_url
                    .clone()
                    .context("--target endpoint needs --endpoint-url URL (or AWS_ENDPOINT_URL)")?,
                provision: self.provision,
            },
            Kind::Localstack => TargetSpec::Endpoint { paths, endpoint: super::localstack::start()?, provision: true },
        })
    }

    /// The `--user NAME=KEYFILE` accounts, in order.
    fn accounts(&self) -> anyhow::Result<Vec<(String, PathBuf)>> {
        self.users
            .iter()
            .map(|u| {
                u.split_once('=')
                    .map(|(n, k)| (n.to_string(), PathBuf::from(k)))
                    .with_context(|| format!("--user {u:?}: expected NAME=PRIVATE_KEY_FILE"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(target: Kind) -> TargetArgs {
        TargetArgs { target, stack: None, endpoint_url: None, provision: false, users: Vec::new() }
    }

    #[test]
    fn each_target_says_what_it_lacks() {
        let paths = Paths { infra: "infra".into(), function_command: vec!["f".into()] };
        assert!(matches!(args(Kind::Embedded).spec(paths.clone()), Ok(TargetSpec::Embedded(_))));
        let e = args(Kind::Aws).spec(paths.clone()).unwrap_err().to_string();
        assert!(e.contains("--stack"), "{e}");
        let e = args(Kind::Endpoint).spec(paths.clone()).unwrap_err().to_string();
        assert!(e.contains("--endpoint-url"), "{e}");
        let mut bad = args(Kind::Aws);
        bad.stack = Some("o.json".into());
        bad.users = vec!["acme".into()];
        let e = bad.spec(paths).unwrap_err().to_string();
        assert!(e.contains("NAME=PRIVATE_KEY_FILE"), "{e}");
    }
}
