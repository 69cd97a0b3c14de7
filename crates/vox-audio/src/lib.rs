//! Vox's digital signal processing: everything between carrier bytes and internal frames.
//!
//! Synchronous `&mut self` code only: no async, no I/O except WAV helpers on paths given by
//! the caller, no clock. After construction the per-frame paths do not allocate.
//!
//! Main types: [`g711`] codecs, [`StreamResampler`] (rubato), [`Framer`] (re-chunking into
//! 20 ms frames), [`Vad`] + [`EnergyVad`], [`Ingress`] / [`Egress`] (the whole edge
//! conversion in each direction), and [`wav`] helpers (hound).

mod chain;
mod framer;
pub mod g711;
pub mod mel;
mod resample;
mod vad;
pub mod wav;

pub use chain::{Codec, Egress, Ingress};
pub use framer::Framer;
pub use resample::{ResampleError, StreamResampler};
pub use vad::{EnergyVad, EnergyVadConfig, Hysteresis, Vad, VadFactory};
