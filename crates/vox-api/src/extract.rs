//! Text from knowledge-base files (TXT, MD and other UTF-8 text, PDF, DOCX) and its
//! splitting into chunks for retrieval. Pure functions over bytes: no I/O.
//!
//! Untrusted input: PDF streams are decompressed with lopdf's size bound, a DOCX's
//! `word/document.xml` is read through a size cap (zip bombs), and nothing here panics on
//! malformed files; they fail with a reason the API shows in the file's `error`.

use std::io::Read as _;

/// The largest text we take out of one file (about 2,500 pages).
pub const MAX_TEXT_BYTES: usize = 8 << 20;

/// Longest chunk, in characters (a paragraph or two; what retrieval returns to the agent).
pub const CHUNK_CHARS: usize = 900;

/// The kinds of file we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (plain, Markdown, CSV, JSON, HTML, ...).
    Text,
    /// PDF.
    Pdf,
    /// Word (Office Open XML).
    Docx,
}

const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// What a file is, from its content first and its name second, with the media type we
/// report; `None` when it is no kind we can read (binary that is neither PDF nor DOCX).
pub fn sniff(name: &str, declared: Option<&str>, bytes: &[u8]) -> Option<(Kind, String)> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if bytes.starts_with(b"%PDF-") {
        return Some((Kind::Pdf, "application/pdf".into()));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // a zip: we read it only as a Word document
        return (ext == "docx" || declared == Some(DOCX_MIME))
            .then(|| (Kind::Docx, DOCX_MIME.into()));
    }
    let sample = &bytes[..bytes.len().min(64 << 10)];
    let text = !sample.contains(&0)
        && match std::str::from_utf8(sample) {
            Ok(_) => true,
            // a multi-byte character cut at the end of the sample
            Err(e) => e.error_len().is_none(),
        };
    if !text {
        return None;
    }
    let mime = match ext.as_str() {
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        _ => match declared {
            Some(d) if d.starts_with("text/") => d,
            _ => "text/plain",
        },
    };
    Some((Kind::Text, mime.into()))
}

/// The text of a file of `kind`.
pub fn extract(kind: Kind, bytes: &[u8]) -> Result<String, String> {
    let text = match kind {
        Kind::Text => String::from_utf8(bytes.to_vec()).map_err(|e| {
            format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )
        })?,
        Kind::Pdf => pdf(bytes)?,
        Kind::Docx => docx(bytes)?,
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "the file holds more than {} MB of text",
            MAX_TEXT_BYTES >> 20
        ));
    }
    if text.trim().is_empty() {
        return Err(match kind {
            Kind::Pdf => {
                "no text found in the PDF (a scanned document? text recognition is not supported)"
                    .into()
            }
            _ => "the file has no text".into(),
        });
    }
    Ok(text)
}

fn pdf(bytes: &[u8]) -> Result<String, String> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| format!("cannot read the PDF: {e}"))?;
    if doc.is_encrypted() {
        return Err("the PDF is encrypted".into());
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut out = String::new();
    for page in pages {
        // page by page, so one undecodable page costs only itself
        if let Ok(t) = doc.extract_text(&[page]) {
            out.push_str(&t);
            out.push('\n');
        }
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Ok(out)
}

fn docx(bytes: &[u8]) -> Result<String, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("cannot read the DOCX (zip): {e}"))?;
    let entry = zip
        .by_name("word/document.xml")
        .map_err(|_| "not a Word document: word/document.xml is missing".to_owned())?;
    let mut xml = String::new();
    // 4x the text cap: markup around the text, and no more (a zip bomb stops here)
    entry
        .take(4 * MAX_TEXT_BYTES as u64 + 1)
        .read_to_string(&mut xml)
        .map_err(|e| format!("cannot read word/document.xml: {e}"))?;
    if xml.len() > 4 * MAX_TEXT_BYTES {
        return Err(format!(
            "word/document.xml is larger than {} MB",
            (4 * MAX_TEXT_BYTES) >> 20
        ));
    }
    docx_text(&xml)
}

/// The text of a WordprocessingML body: runs' `w:t`, tabs and breaks, a line per paragraph.
fn docx_text(xml: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = String::new();
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| {
            format!(
                "word/document.xml is not well-formed at byte {}: {e}",
                reader.buffer_position()
            )
        })? {
            Event::Start(e) if e.local_name().as_ref() == "t" => in_text = true,
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => out.push_str(&t.xml10_content()),
            Event::CData(t) if in_text => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => out.push_str(match &*r {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                }),
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Splits text into chunks of at most [`CHUNK_CHARS`] characters along paragraph, then
/// sentence, then word boundaries; whitespace inside a paragraph is collapsed.
pub fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        let t = cur.trim();
        if !t.is_empty() {
            out.push(t.to_owned());
        }
        cur.clear();
    };
    for para in text.split("\n\n").flat_map(|p| p.split("\r\n\r\n")) {
        let para = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if para.is_empty() {
            continue;
        }
        for piece in pieces(&para) {
            let len = cur.chars().count();
            if len > 0 && len + 1 + piece.chars().count() > CHUNK_CHARS {
                flush(&mut cur, &mut out);
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&piece);
        }
        // a paragraph ends a chunk once the chunk is half full
        if cur.chars().count() >= CHUNK_CHARS / 2 {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// A paragraph as pieces no longer than a chunk: sentences, and words of over-long sentences.
fn pieces(para: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = para.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ') {
            out.push(para[start..=i].to_owned());
            start = i + 2;
        }
    }
    if start < para.len() {
        out.push(para[start..].to_owned());
    }
    out.into_iter()
        .flat_map(|s| {
            if s.chars().count() <= CHUNK_CHARS {
                return vec![s];
            }
            let mut words = Vec::new();
            let mut cur = String::new();
            for w in s.split(' ') {
                // a single "word" longer than a chunk (a URL, base64) is cut by characters
                let w: Vec<char> = w.chars().collect();
                for part in w.chunks(CHUNK_CHARS) {
                    let part: String = part.iter().collect();
                    if !cur.is_empty()
                        && cur.chars().count() + 1 + part.chars().count() > CHUNK_CHARS
                    {
                        words.push(std::mem::take(&mut cur));
                    }
                    if !cur.is_empty() {
                        cur.push(' ');
                    }
                    cur.push_str(&part);
                }
            }
            if !cur.is_empty() {
                words.push(cur);
            }
            words
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_then_name() {
        assert_eq!(
            sniff("a.bin", None, b"%PDF-1.7 ...").map(|k| k.0),
            Some(Kind::Pdf)
        );
        assert_eq!(
            sniff("notes.md", None, b"# Hours\nOpen daily").map(|k| k.1),
            Some("text/markdown".into())
        );
        assert_eq!(
            sniff("notes.txt", Some("text/plain"), "caf\u{e9}".as_bytes()).map(|k| k.0),
            Some(Kind::Text)
        );
        assert_eq!(
            sniff("x.docx", None, b"PK\x03\x04rest").map(|k| k.0),
            Some(Kind::Docx)
        );
        assert_eq!(
            sniff("x.zip", Some("application/zip"), b"PK\x03\x04rest"),
            None,
            "a zip that is not a Word file"
        );
        assert_eq!(
            sniff(
                "photo.png",
                Some("image/png"),
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
            ),
            None
        );
        assert_eq!(
            sniff("latin1.txt", None, b"caf\xe9 au lait"),
            None,
            "not UTF-8"
        );
    }

    #[test]
    fn docx_runs_paragraphs_and_entities() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Open </w:t></w:r><w:r><w:t xml:space="preserve">9&amp;5</w:t></w:r></w:p>
            <w:p><w:r><w:t>Tel</w:t><w:tab/><w:t>512&#8211;555</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            docx_text(xml).expect("text"),
            "Open 9&5\nTel\t512\u{2013}555\n"
        );
        assert!(docx_text("<w:p><w:t>unclosed</w:p>").is_err());
    }

    #[test]
    fn chunks_respect_the_limit_and_keep_every_word() {
        let para = "The quick brown fox jumps over the lazy dog. ".repeat(60);
        let long_word = "x".repeat(2000);
        let text = format!("Short intro.\n\n{para}\n\n{long_word}\n\nThe end.");
        let cs = chunks(&text);
        assert!(cs.len() > 3, "{}", cs.len());
        assert!(
            cs.iter().all(|c| c.chars().count() <= CHUNK_CHARS),
            "{:?}",
            cs.iter().map(|c| c.len()).collect::<Vec<_>>()
        );
        let words = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(
            words(&cs.join(" ")),
            words(&text),
            "no text lost or repeated"
        );
        assert_eq!(chunks("  \n\n \n"), Vec::<String>::new());
        assert_eq!(
            chunks("one\n\ntwo"),
            vec!["one two".to_owned()],
            "small paragraphs share a chunk"
        );
    }

    #[test]
    fn empty_and_malformed_files_fail_with_a_reason() {
        assert!(
            extract(Kind::Text, b"  \n")
                .expect_err("must fail")
                .contains("no text")
        );
        assert!(
            extract(Kind::Pdf, b"%PDF-1.4 garbage")
                .expect_err("must fail")
                .contains("PDF")
        );
        assert!(
            extract(Kind::Docx, b"PK\x03\x04 not really")
                .expect_err("must fail")
                .contains("DOCX")
        );
    }
}
