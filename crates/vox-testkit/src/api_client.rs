//! A client of the control-plane API for end-to-end tests: a token from the client
//! credentials, then JSON requests with it.

use std::time::Duration;

use serde_json::Value;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// The HTTP client (for requests of other shapes, such as multipart uploads).
    pub http: reqwest::Client,
    /// `http://host:port` of the server.
    pub base: String,
    /// The bearer token.
    pub token: String,
}

impl ApiClient {
    /// Signs in with client credentials, form-encoded as in the seed (panics on failure).
    pub async fn login(base: &str, client_id: &str, client_secret: &str) -> Self {
        let http = crate::http_client();
        let res = http
            .post(format!("{base}/v1/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(
            res.status().as_u16(),
            200,
            "the token endpoint refused the client"
        );
        let token: Value = res.json().await.expect("token json");
        Self {
            http,
            base: base.to_owned(),
            token: token["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
        }
    }

    /// One JSON request: the status and the JSON body (`Null` when there is none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send_with(method, path, body, &[]).await
    }

    /// A voice agent made from `body` in business `biz` through the Partner API and
    /// deployed; its id. Panics if either step is refused.
    pub async fn deployed_agent(&self, biz: &str, body: Value) -> String {
        let agents = format!("/v1/businesses/{biz}/voice-agents");
        let (status, agent) = self.send(reqwest::Method::POST, &agents, Some(body)).await;
        assert_eq!(status, 201, "{agent}");
        let id = agent["id"].as_str().expect("id").to_owned();
        let (status, d) = self
            .send(
                reqwest::Method::POST,
                &format!("{agents}/{id}/deploy"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{d}");
        id
    }

    /// [`send`](Self::send) with seed 000's (and 001's) `Version: 2021-04-15` header.
    pub async fn send_versioned(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send_with(method, path, body, &[("Version", "2021-04-15")])
            .await
    }

    async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls a business's call until it has ended (and, with `artifacts`, until its summary,
    /// written last, is there); panics after a minute.
    pub async fn ended_call(&self, biz: &str, id: &str, artifacts: bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let (status, call) = self
                .send(
                    reqwest::Method::GET,
                    &format!("/v1/businesses/{biz}/calls/{id}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{call}");
            if call["status"] != "SCHEDULED"
                && call["status"] != "IN_PROGRESS"
                && (!artifacts || !call["summary"].is_null())
            {
                return call;
            }
            last = call;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("call {id} did not end: {last}");
    }
}
