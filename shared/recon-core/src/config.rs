//! Engine configuration, parsed and checked once at start.

use crate::time::parse_duration;

/// Default learning period: 7 days of observed event time.
pub const DEFAULT_LEARNING_PERIOD_MS: i64 = 7 * 86_400_000;
/// Default Portscan threshold: distinct remote ports (Zeek's threshold).
pub const DEFAULT_PORTSCAN_PORTS: u32 = 15;
/// Default Portscan window: 5 minutes.
pub const DEFAULT_PORTSCAN_WINDOW_MS: i64 = 5 * 60_000;

/// How the engine decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// How long after an account's first observed event the permissions detectors stay quiet
    /// while baselines fill. `0` turns the learning period off: every first call is new.
    pub learning_period_ms: i64,
    /// Overrides the account id when the logs carry none.
    pub account_id: Option<String>,
    /// The Region used when neither the record nor the object path names one.
    pub default_region: String,
    /// Distinct remote ports that make a Portscan.
    pub portscan_ports: u32,
    /// The window they must fall in, in milliseconds.
    pub portscan_window_ms: i64,
    /// The fields of flow logs that have no header line (CloudWatch Logs exports); the
    /// default version-2 format when `None`.
    pub flow_format: Option<crate::flowlog::Format>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            learning_period_ms: DEFAULT_LEARNING_PERIOD_MS,
            account_id: None,
            default_region: "us-east-1".into(),
            portscan_ports: DEFAULT_PORTSCAN_PORTS,
            portscan_window_ms: DEFAULT_PORTSCAN_WINDOW_MS,
            flow_format: None,
        }
    }
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message} (got {value:?})")]
pub struct ConfigError {
    /// The setting's name (flag or environment variable).
    pub name: String,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

impl EngineConfig {
    /// Sets the learning period from a duration such as `7d`, `12h` or `0`.
    pub fn set_learning_period(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.learning_period_ms = parse_duration(value).ok_or_else(|| ConfigError {
            name: name.into(),
            value: value.into(),
            message: "expected a duration such as 7d, 12h, 30m or 0".into(),
        })?;
        Ok(())
    }

    /// Sets the Portscan threshold: at least 2 distinct ports.
    pub fn set_portscan_ports(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.portscan_ports = value
            .parse()
            .ok()
            .filter(|n| (2..=65_535).contains(n))
            .ok_or_else(|| ConfigError {
                name: name.into(),
                value: value.into(),
                message: "expected a number of ports from 2 to 65535".into(),
            })?;
        Ok(())
    }

    /// Sets the Portscan window from a duration such as `5m` (at least a second, at most a
    /// day).
    pub fn set_portscan_window(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.portscan_window_ms = parse_duration(value)
            .filter(|ms| (1_000..=86_400_000).contains(ms))
            .ok_or_else(|| ConfigError {
                name: name.into(),
                value: value.into(),
                message: "expected a duration from 1s to 1d, such as 5m".into(),
            })?;
        Ok(())
    }

    /// Sets the fields of flow logs without a header, written as a header line would name them
    /// (`version account-id interface-id …` or `${version} ${account-id} …`).
    pub fn set_flow_format(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let format = crate::flowlog::Format::from_header(value).map_err(|e| ConfigError {
            name: name.into(),
            value: value.into(),
            message: e.to_string(),
        })?;
        self.flow_format = Some(format);
        Ok(())
    }

    /// Sets the Region for records and paths that name none; it must have a Region's shape.
    pub fn set_default_region(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        if !crate::input::is_region(value) {
            return Err(ConfigError {
                name: name.into(),
                value: value.into(),
                message: "a Region is named like us-east-1 or eu-central-2".into(),
            });
        }
        self.default_region = value.into();
        Ok(())
    }

    /// Sets the account id, which must be 12 digits.
    pub fn set_account_id(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        if !crate::input::is_account_id(value.as_bytes()) {
            return Err(ConfigError {
                name: name.into(),
                value: value.into(),
                message: "an AWS account id is 12 digits".into(),
            });
        }
        self.account_id = Some(value.into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_setting() {
        let mut c = EngineConfig::default();
        let e = c
            .set_learning_period("--learning-period", "7 days")
            .expect_err("bad");
        assert!(e.to_string().starts_with("--learning-period:"), "{e}");
        c.set_learning_period("--learning-period", "12h")
            .expect("good");
        assert_eq!(c.learning_period_ms, 12 * 3_600_000);
        assert!(c.set_account_id("--account-id", "12345").is_err());
        c.set_account_id("--account-id", "111122223333")
            .expect("good");
    }

    #[test]
    fn portscan_settings_and_flow_format_are_checked() {
        let mut c = EngineConfig::default();
        for bad in ["1", "0", "-3", "65536", "many"] {
            assert!(
                c.set_portscan_ports("--portscan-ports", bad).is_err(),
                "{bad}"
            );
        }
        c.set_portscan_ports("--portscan-ports", "2").expect("good");
        assert_eq!(c.portscan_ports, 2);
        for bad in ["0", "500ms", "2d", "5 minutes"] {
            assert!(
                c.set_portscan_window("--portscan-window", bad).is_err(),
                "{bad}"
            );
        }
        c.set_portscan_window("--portscan-window", "1s")
            .expect("good");
        assert_eq!(c.portscan_window_ms, 1_000);
        let e = c
            .set_flow_format("--flow-format", "nonsense")
            .expect_err("bad");
        assert!(e.to_string().starts_with("--flow-format:"), "{e}");
        c.set_flow_format("--flow-format", "${srcaddr} ${dstaddr} ${dstport}")
            .expect("good");
        assert_eq!(c.flow_format.map(|f| f.len()), Some(3));
    }
}
