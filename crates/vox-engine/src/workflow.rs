//! The workflow graph of seed 002, run as a state machine.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vox_core::ToolSpec;

/// The tool the model calls to move along an edge.
pub const TRANSITION_TOOL: &str = "transition";

/// Node kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// A phase of conversation led by the model with the node's prompt.
    Conversation,
    /// A system action: the prompt names the tool (scheduleAppointment, transferCall, endCall).
    Tool,
}

/// A node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// Unique id.
    pub id: String,
    /// Kind.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// The phase's instructions, or the tool's name.
    pub prompt: String,
    /// Said on entering the node.
    #[serde(default)]
    pub first_message: Option<String>,
    /// For editors.
    #[serde(default)]
    pub label: Option<String>,
}

/// An edge, taken when its condition holds ("always" is taken after the node's first exchange).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// From node id.
    pub from: String,
    /// To node id.
    pub to: String,
    /// Condition, in words.
    pub when: String,
}

/// The graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Where the conversation starts.
    pub start_node: String,
}

const TOOL_NODES: [&str; 3] = ["scheduleAppointment", "transferCall", "endCall"];

impl Workflow {
    /// Checks the graph: unique ids, start and edge ends exist, tool nodes name known tools.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids = std::collections::BTreeSet::new();
        for n in &self.nodes {
            if !ids.insert(n.id.as_str()) {
                return Err(format!("workflow node {:?} is defined twice", n.id));
            }
            if n.node_type == NodeType::Tool && !TOOL_NODES.contains(&n.prompt.as_str()) {
                return Err(format!(
                    "tool node {:?} must be one of {TOOL_NODES:?}, got {:?}",
                    n.id, n.prompt
                ));
            }
        }
        if !ids.contains(self.start_node.as_str()) {
            return Err(format!("startNode {:?} is not a node", self.start_node));
        }
        for e in &self.edges {
            for end in [&e.from, &e.to] {
                if !ids.contains(end.as_str()) {
                    return Err(format!(
                        "edge {} -> {} names unknown node {end:?}",
                        e.from, e.to
                    ));
                }
            }
        }
        Ok(())
    }

    /// The node with `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Edges leaving `id` whose condition is a choice for the model (not "always").
    pub fn choices(&self, id: &str) -> Vec<(String, String)> {
        self.edges
            .iter()
            .filter(|e| e.from == id && !is_always(&e.when))
            .map(|e| (e.to.clone(), e.when.clone()))
            .collect()
    }

    /// The target of an "always" edge from `id`, if any.
    pub fn always_from(&self, id: &str) -> Option<&str> {
        self.edges
            .iter()
            .find(|e| e.from == id && is_always(&e.when))
            .map(|e| e.to.as_str())
    }

    /// The first edge out of `id` (tool nodes move on by it after running).
    pub fn next_after(&self, id: &str) -> Option<&str> {
        self.edges
            .iter()
            .find(|e| e.from == id)
            .map(|e| e.to.as_str())
    }

    /// The transition tool offered while at `id`, if it has choices.
    pub fn transition_tool(&self, id: &str) -> Option<ToolSpec> {
        let choices = self.choices(id);
        if choices.is_empty() {
            return None;
        }
        let options: Vec<&str> = choices.iter().map(|(to, _)| to.as_str()).collect();
        let described: Vec<String> = choices
            .iter()
            .map(|(to, when)| format!("{to}: {when}"))
            .collect();
        Some(ToolSpec {
            name: TRANSITION_TOOL.into(),
            description: format!(
                "Move the conversation on. Options: {}.",
                described.join("; ")
            ),
            parameters: json!({"type": "object", "properties": {"next": {"type": "string", "enum": options}}, "required": ["next"]}),
        })
    }
}

fn is_always(when: &str) -> bool {
    when.trim().eq_ignore_ascii_case("always")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn seed_workflow() -> Workflow {
        serde_json::from_value(json!({
            "nodes": [
                {"id": "start", "type": "conversation", "prompt": "Greet the caller", "firstMessage": "Hello!"},
                {"id": "collect-info", "type": "conversation", "prompt": "Ask for the reason"},
                {"id": "schedule", "type": "tool", "prompt": "scheduleAppointment"},
                {"id": "transfer", "type": "tool", "prompt": "transferCall"},
                {"id": "end", "type": "tool", "prompt": "endCall"}
            ],
            "edges": [
                {"from": "start", "to": "collect-info", "when": "always"},
                {"from": "collect-info", "to": "schedule", "when": "if caller wants to schedule"},
                {"from": "collect-info", "to": "transfer", "when": "if caller needs support"},
                {"from": "schedule", "to": "end", "when": "after scheduling"},
                {"from": "transfer", "to": "end", "when": "after transfer"}
            ],
            "startNode": "start"
        }))
        .expect("seed workflow")
    }

    #[test]
    fn the_seed_example_validates_and_offers_its_choices() {
        let w = seed_workflow();
        w.validate().expect("valid");
        assert_eq!(w.always_from("start"), Some("collect-info"));
        assert!(w.transition_tool("start").is_none());
        let t = w.transition_tool("collect-info").expect("choices");
        assert_eq!(
            t.parameters["properties"]["next"]["enum"],
            json!(["schedule", "transfer"])
        );
        assert_eq!(w.next_after("schedule"), Some("end"));
    }

    #[test]
    fn broken_graphs_are_rejected() {
        let mut w = seed_workflow();
        w.start_node = "nowhere".into();
        assert!(w.validate().expect_err("bad start").contains("startNode"));
        let mut w = seed_workflow();
        w.nodes[2].prompt = "bookTable".into();
        assert!(w.validate().expect_err("bad tool").contains("bookTable"));
        let mut w = seed_workflow();
        w.edges[0].to = "ghost".into();
        assert!(w.validate().expect_err("bad edge").contains("ghost"));
    }
}
