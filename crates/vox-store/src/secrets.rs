//! Secrets the database keeps, sealed at rest (`vox_crypto::seal`): a business's webhook
//! signing secret, and the header values of its tools' requests (an `Authorization` header
//! of an apiRequest tool is a credential of the business's own API).
//!
//! Each value is sealed for its place (`webhook:{business}`, `tool:{business}:{tool}`), so it
//! does not open anywhere else. A store without a sealer (tests, tools that never touch
//! secrets) keeps plain text and refuses to read a sealed value. Values written before
//! sealing was turned on are sealed by [`Store::seal_stored_secrets`] at start.

use std::sync::Arc;

use serde_json::Value;
use sqlx::Row;
use vox_crypto::seal::{OpenError, Sealer};

use crate::{Store, StoreError};

/// Where a webhook's secret lives.
pub(crate) fn webhook_place(business_id: &str) -> String {
    format!("webhook:{business_id}")
}

/// Where a tool's header values live.
pub(crate) fn tool_place(business_id: &str, tool_id: &str) -> String {
    format!("tool:{business_id}:{tool_id}")
}

impl Store {
    /// This store with secrets sealed under `sealer`.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// `plain` as stored at `place`.
    pub(crate) fn seal(&self, plain: &str, place: &str) -> String {
        match &self.sealer {
            Some(s) => s.seal(plain, place),
            None => plain.to_owned(),
        }
    }

    /// The plain text of a value stored at `place`.
    pub(crate) fn open(&self, stored: &str, place: &str) -> Result<String, StoreError> {
        match (&self.sealer, Sealer::is_sealed(stored)) {
            (_, false) => Ok(stored.to_owned()),
            (None, true) => Err(StoreError::Sealed(
                "a secret is sealed and no store.secrets_key is configured".into(),
            )),
            (Some(s), true) => s
                .open(stored, place)
                .map_err(|e| StoreError::Sealed(e.to_string())),
        }
    }

    /// A tool configuration's header values sealed (or opened) for `place`.
    pub(crate) fn seal_headers(&self, config: &Value, place: &str) -> Value {
        let mut config = config.clone();
        if let Some(headers) = config.get_mut("headers").and_then(Value::as_object_mut) {
            for v in headers.values_mut() {
                if let Some(text) = v.as_str().filter(|t| !Sealer::is_sealed(t)) {
                    *v = Value::String(self.seal(text, place));
                }
            }
        }
        config
    }

    /// The inverse of [`Store::seal_headers`].
    pub(crate) fn open_headers(&self, config: &Value, place: &str) -> Result<Value, StoreError> {
        let mut config = config.clone();
        if let Some(headers) = config.get_mut("headers").and_then(Value::as_object_mut) {
            for v in headers.values_mut() {
                if let Some(text) = v.as_str() {
                    *v = Value::String(self.open(text, place)?);
                }
            }
        }
        Ok(config)
    }

    /// At start: seals every secret stored in plain text (written before sealing was on) and
    /// checks that every sealed one opens with this key; how many were sealed now. Fails,
    /// naming the problem, when a sealed secret does not open (another key).
    pub async fn seal_stored_secrets(&self) -> Result<usize, StoreError> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok(0);
        };
        let mut sealed = 0;
        let wrong_key = |what: &str, e: OpenError| {
            StoreError::Sealed(format!(
                "{what}: {e}; was store.secrets_key (or its key file) changed?"
            ))
        };
        let hooks = sqlx::query("SELECT business_id, secret FROM webhooks")
            .fetch_all(self.pool())
            .await?;
        for r in hooks {
            let (business, secret): (String, String) =
                (r.try_get("business_id")?, r.try_get("secret")?);
            let place = webhook_place(&business);
            match sealer.open(&secret, &place) {
                Ok(_) => {}
                Err(OpenError::NotSealed) => {
                    sqlx::query("UPDATE webhooks SET secret = $1 WHERE business_id = $2")
                        .bind(sealer.seal(&secret, &place))
                        .bind(&business)
                        .execute(self.pool())
                        .await?;
                    sealed += 1;
                }
                Err(e) => return Err(wrong_key(&format!("the webhook of {business}"), e)),
            }
        }
        let tools = sqlx::query("SELECT id, business_id, config_override FROM tools")
            .fetch_all(self.pool())
            .await?;
        for r in tools {
            let (id, business, text): (String, String, String) = (
                r.try_get("id")?,
                r.try_get("business_id")?,
                r.try_get("config_override")?,
            );
            let Ok(config) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let place = tool_place(&business, &id);
            let mut plain = false;
            for v in config["headers"]
                .as_object()
                .into_iter()
                .flat_map(|h| h.values())
            {
                match v.as_str().map(|t| sealer.open(t, &place)) {
                    None | Some(Ok(_)) => {}
                    Some(Err(OpenError::NotSealed)) => plain = true,
                    Some(Err(e)) => return Err(wrong_key(&format!("tool {id}"), e)),
                }
            }
            if plain {
                sqlx::query("UPDATE tools SET config_override = $1 WHERE id = $2")
                    .bind(self.seal_headers(&config, &place).to_string())
                    .bind(&id)
                    .execute(self.pool())
                    .await?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }
}
