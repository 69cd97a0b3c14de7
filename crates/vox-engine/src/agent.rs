//! Agents as data: the voice-agent fields of the Partner API (seed 002), the tools the
//! agent may use, and the system prompt built from them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vox_core::ToolSpec;

use crate::workflow::Workflow;

/// INBOUND or OUTBOUND.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum AgentType {
    /// Answers calls.
    #[default]
    Inbound,
    /// Places calls.
    Outbound,
}

/// The agent's personality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Personality {
    /// e.g. "friendly".
    #[serde(default)]
    pub tone: Option<String>,
    /// e.g. "conversational".
    #[serde(default)]
    pub style: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Acknowledge feelings.
    #[serde(default)]
    pub use_empathy: Option<bool>,
    /// Light humour.
    #[serde(default)]
    pub use_humor: Option<bool>,
}

/// What a tool does when called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolKind {
    /// POST the arguments as JSON to the developer's URL; the response body is the result.
    Function,
    /// Say goodbye and hang up (run by the engine itself).
    EndCall,
    /// Transfer the call (carried out by the tool runtime).
    TransferCall,
    /// Calendar booking, search and cancellation (carried out by the tool runtime).
    ScheduleAppointment,
    /// Knowledge-base lookup (carried out by the tool runtime).
    KnowledgeBase,
    /// A templated HTTP request (carried out by the tool runtime).
    ApiRequest,
    /// Keeps what the caller said in the call's data (carried out by the tool runtime).
    CaptureData,
    /// Starts the developer's workflow (an event, sent by the tool runtime).
    TriggerWorkflow,
    /// Sends the caller a text message (through the carrier, by the tool runtime).
    SendSms,
}

/// A tool the agent may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolDef {
    /// Name the model calls it by.
    pub name: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: ToolKind,
    /// For the model.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments.
    #[serde(default = "empty_object_schema")]
    pub parameters: serde_json::Value,
    /// `function` tools: where to POST.
    #[serde(default)]
    pub url: Option<String>,
    /// Said to the caller while the tool runs ("One moment while I check.").
    #[serde(default)]
    pub message: Option<String>,
}

fn empty_object_schema() -> serde_json::Value {
    json!({"type": "object", "properties": {}})
}

impl ToolDef {
    /// As offered to the model.
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

/// A voice agent, as data (the seed's agent fields plus the tools' definitions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
    /// Stable id (the `agentId` a stream asks for).
    pub id: String,
    /// Display name (1-40 characters).
    pub name: String,
    /// INBOUND or OUTBOUND.
    #[serde(rename = "type", default)]
    pub agent_type: AgentType,
    /// Prose description of the conversation (one of this and `workflow`).
    #[serde(default)]
    pub conversation_flow: Option<String>,
    /// Structured conversation graph (takes precedence over `conversationFlow`).
    #[serde(default)]
    pub workflow: Option<Workflow>,
    /// Extra rules.
    #[serde(default)]
    pub custom_instructions: Option<String>,
    /// Personality.
    #[serde(default)]
    pub personality: Option<Personality>,
    /// Said when the call starts.
    #[serde(default)]
    pub first_message: Option<String>,
    /// TTS voice.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// Tools.
    #[serde(default)]
    pub tools: Vec<ToolDef>,
    /// Data to collect from the caller.
    #[serde(default)]
    pub collect_fields: Vec<String>,
    /// The business the agent speaks for.
    #[serde(default)]
    pub business_name: Option<String>,
    /// The language calls are held in (BCP 47, or `multi`: the caller's); English if absent.
    #[serde(default)]
    pub language: Option<String>,
    /// The longest call, in seconds (the server's `[conversation]` default when absent).
    #[serde(default)]
    pub max_call_duration: Option<u32>,
    /// Whether a silent caller is reminded (default: as the server is configured).
    #[serde(default)]
    pub send_user_idle_reminders: Option<bool>,
    /// Seconds of caller silence before a reminder.
    #[serde(default)]
    pub reminder_after_idle_time_seconds: Option<u32>,
    /// How long the agent waits for a caller who pauses ([`Patience`]).
    #[serde(default)]
    pub patience_level: Option<Patience>,
}

/// How long an agent waits for a caller who pauses before answering: the endpointing waits
/// of the server's `[conversation]` section, scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Patience {
    /// Answers soon: half the configured wait after a complete-sounding turn, two thirds
    /// of the longest.
    Low,
    /// The configured waits.
    Medium,
    /// Lets the caller think: twice the wait after a complete-sounding turn, one and a half
    /// times the longest.
    High,
}

/// Why an agent definition is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agent {agent:?}: {problem}")]
pub struct AgentError {
    /// The agent's id.
    pub agent: String,
    /// What is wrong.
    pub problem: String,
}

impl AgentSpec {
    /// Checks the rules of the seed that apply to a running agent.
    pub fn validate(&self) -> Result<(), AgentError> {
        let err = |p: String| {
            Err(AgentError {
                agent: self.id.clone(),
                problem: p,
            })
        };
        let len = self.name.chars().count();
        if !(1..=40).contains(&len) {
            return err(format!("name must be 1-40 characters, got {len}"));
        }
        if self.id.trim().is_empty() {
            return err("id must not be empty".into());
        }
        match (&self.workflow, &self.conversation_flow) {
            (None, None) => return err("needs a conversationFlow or a workflow".into()),
            (Some(w), _) => w.validate().map_err(|p| AgentError {
                agent: self.id.clone(),
                problem: p,
            })?,
            (None, Some(f)) if f.trim().is_empty() => {
                return err("conversationFlow is empty".into());
            }
            _ => {}
        }
        let mut names = std::collections::BTreeSet::new();
        for t in &self.tools {
            if !names.insert(t.name.as_str()) {
                return err(format!("tool {:?} is defined twice", t.name));
            }
            if t.kind == ToolKind::Function
                && t.url
                    .as_deref()
                    .is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return err(format!("function tool {:?} needs an http(s) url", t.name));
            }
        }
        Ok(())
    }

    /// The system prompt for the current point of the conversation (`node_prompt`: the
    /// active workflow node's prompt, if the agent has a workflow).
    pub fn system_prompt(
        &self,
        node_prompt: Option<&str>,
        transitions: &[(String, String)],
    ) -> String {
        let mut p = format!(
            "You are {}, a voice agent speaking with a caller on the phone",
            self.name
        );
        match &self.business_name {
            Some(b) => p.push_str(&format!(" for {b}.")),
            None => p.push('.'),
        }
        match self.language.as_deref() {
            None | Some("en-US") => {}
            Some("multi") => p.push_str(" Answer in the language the caller speaks."),
            Some(lang) => p.push_str(&format!(" Speak only {lang} (BCP 47) with the caller.")),
        }
        if let Some(per) = &self.personality {
            let mut traits = Vec::new();
            if let Some(t) = &per.tone {
                traits.push(format!("your tone is {t}"));
            }
            if let Some(s) = &per.style {
                traits.push(format!("your style is {s}"));
            }
            if per.use_empathy == Some(true) {
                traits.push("acknowledge the caller's feelings".into());
            }
            if per.use_humor == Some(true) {
                traits.push("a little light humour is welcome".into());
            }
            if !traits.is_empty() {
                p.push_str(&format!(" Personality: {}.", traits.join("; ")));
            }
            if let Some(d) = &per.description {
                p.push_str(&format!(" {d}"));
            }
        }
        p.push_str(
            "\nSpeak in short, natural sentences, one idea at a time. No markdown, lists, emoji or \
             URLs: everything you write is spoken aloud. If a message of yours was interrupted, the \
             caller heard only the part shown.",
        );
        if let Some(node) = node_prompt {
            p.push_str(&format!("\n\n## Current step\n{node}"));
        } else if let Some(flow) = &self.conversation_flow {
            p.push_str(&format!("\n\n## Conversation\n{flow}"));
        }
        if !transitions.is_empty() {
            p.push_str("\n\n## Moving on\nWhen one of these becomes true, call the `transition` tool with its option:");
            for (to, when) in transitions {
                p.push_str(&format!("\n- {to}: {when}"));
            }
        }
        if !self.collect_fields.is_empty() {
            p.push_str(&format!(
                "\n\n## Collect\nDuring the call, collect the caller's: {}.",
                self.collect_fields.join(", ")
            ));
        }
        if let Some(ci) = &self.custom_instructions {
            p.push_str(&format!("\n\n## Rules\n{ci}"));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> AgentSpec {
        serde_json::from_value(json!({
            "id": "a1", "name": "Mario Brothers Plumbing", "type": "INBOUND",
            "conversationFlow": "Greet the caller warmly. Ask for their name.",
            "customInstructions": "Never mention prices.",
            "personality": {"tone": "friendly", "useEmpathy": true},
            "collectFields": ["name", "phone"],
            "tools": [{"name": "lookupHours", "type": "function", "url": "http://example.com/hours"}]
        }))
        .expect("valid agent json")
    }

    #[test]
    fn the_prompt_is_built_from_the_fields() {
        let a = agent();
        a.validate().expect("valid");
        let p = a.system_prompt(None, &[]);
        for needle in [
            "Mario Brothers Plumbing",
            "Greet the caller warmly",
            "Never mention prices",
            "friendly",
            "feelings",
            "name, phone",
        ] {
            assert!(p.contains(needle), "{needle} missing from {p}");
        }
    }

    #[test]
    fn validation_names_the_problem() {
        let mut a = agent();
        a.name = "x".repeat(41);
        assert!(
            a.validate()
                .expect_err("long name")
                .problem
                .contains("1-40")
        );
        let mut a = agent();
        a.conversation_flow = None;
        assert!(
            a.validate()
                .expect_err("no flow")
                .problem
                .contains("conversationFlow or a workflow")
        );
        let mut a = agent();
        a.tools[0].url = None;
        assert!(a.validate().expect_err("no url").problem.contains("url"));
        let unknown = serde_json::from_value::<AgentSpec>(
            json!({"id": "a", "name": "b", "conversationFlow": "c", "colour": 1}),
        );
        assert!(
            unknown
                .expect_err("unknown field")
                .to_string()
                .contains("colour")
        );
    }
}
