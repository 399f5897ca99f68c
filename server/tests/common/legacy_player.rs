//! A long-poll (legacy) player speaking the JSON protocol over real HTTP:
//! join, state polls applied to a view, inputs, each through whichever base
//! URL the test names (a node, or a balancer).

use serde_json::{Value, json};
use skirmish_shared::ShipId;
use skirmish_shared::http::{JoinAnswer, StateAnswer};
use skirmish_shared::view::ViewHistory;

use super::node_process::NodeProcess;

/// `(status, JSON body)` of a request, redirects followed unless `http`
/// says otherwise.
pub async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A long-poll player whose every request goes to whichever base URL the
/// test names (a node, or the balancer), the way a round-robin balancer
/// would send it.
pub struct Legacy {
    pub http: reqwest::Client,
    pub token: String,
    pub ship: ShipId,
    pub view: ViewHistory,
    pub seq: u32,
}

impl Legacy {
    /// Joins through `url` (`body` names the player, maybe a seat).
    pub async fn join_at(url: &str, body: Value) -> (Legacy, JoinAnswer) {
        let http = reqwest::Client::new();
        let (status, joined) = call(http.post(url).json(&body)).await;
        assert_eq!(status, 200, "{joined}");
        let joined: JoinAnswer = serde_json::from_value(joined).expect("a join answer");
        let legacy = Legacy {
            http,
            token: joined.token.clone(),
            ship: joined.ship,
            view: ViewHistory::new(),
            seq: 0,
        };
        (legacy, joined)
    }

    /// Joins `room` through node `via`.
    pub async fn join(via: &NodeProcess, room: &str, body: Value) -> (Legacy, JoinAnswer) {
        Legacy::join_at(&via.url(&format!("/api/rooms/{room}/join")), body).await
    }

    pub fn url(&self, base: &str, rest: &str) -> String {
        format!("{base}/api/sessions/{}/{rest}", self.token)
    }

    /// One state poll through `base`, applied.
    pub async fn poll_at(&mut self, base: &str) {
        if let Err((status, page)) = self.try_poll_at(base).await {
            panic!("state poll answered {status}: {page}");
        }
    }

    /// One state poll through `base`, applied; a refusal's status and body.
    pub async fn try_poll_at(&mut self, base: &str) -> Result<(), (u16, Value)> {
        let query = match self.view.latest() {
            Some(v) => format!("state?after={}&timeout=5", v.tick.0),
            None => "state?timeout=5".into(),
        };
        let (status, page) = call(self.http.get(self.url(base, &query))).await;
        if status != 200 {
            return Err((status, page));
        }
        let page: StateAnswer = serde_json::from_value(page).expect("a state answer");
        if let Some(snapshot) = page.snapshot {
            self.view.apply(&snapshot.body).expect("applies");
        }
        Ok(())
    }

    /// Its own ship's score in the newest state it holds.
    pub fn score(&self) -> Option<u16> {
        let world = self.view.latest()?;
        world.ships.get(&self.ship).map(|s| s.state.score)
    }

    /// One input (thrust right) through `base`.
    pub async fn input_at(&mut self, base: &str) {
        self.seq += 1;
        let ack = self.view.latest().map(|v| v.tick);
        let body = json!({"seq": self.seq, "ack": ack, "buttons": 8, "aim": 0});
        let (status, page) = call(self.http.post(self.url(base, "input")).json(&body)).await;
        assert_eq!(status, 202, "{page}");
    }

    pub fn sees(&self, ship: ShipId) -> bool {
        self.view
            .latest()
            .is_some_and(|world| world.ships.contains_key(&ship))
    }
}
