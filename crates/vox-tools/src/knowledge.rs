//! Knowledge-base retrieval: hybrid search over a business's uploaded files.
//!
//! An index covers one set of ready files (an agent's `knowledgeBaseDocumentIds`): a tantivy
//! BM25 index in memory plus one sentence embedding per chunk (when an embedder is
//! available). A query takes the best BM25 hits and the best cosine hits and fuses the two
//! rankings by reciprocal rank (k = 60), so exact words (a product code) and paraphrases
//! ("how much is it" vs "prices") both find their chunk. Ready files never change, so an
//! index is built once per file set and shared by calls; building happens at call start
//! (`warm`), off the conversation's path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{INDEXED, STORED, Schema, TEXT, Value as _};
use tantivy::{Index, IndexReader, TantivyDocument, doc};
use tokio::sync::OnceCell;
use vox_providers::Embedder;
use vox_store::Store;

/// How many candidates each ranking contributes before fusion.
const CANDIDATES: usize = 20;
/// Reciprocal-rank-fusion constant.
const RRF_K: f32 = 60.0;

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The file's name as uploaded.
    pub source: String,
    /// The file's id.
    pub file_id: String,
    /// The chunk's text.
    pub text: String,
    /// Fused score (higher is better).
    pub score: f32,
}

struct Passage {
    file_id: String,
    source: String,
    text: String,
}

/// The index of one set of files.
pub struct KnowledgeIndex {
    passages: Vec<Passage>,
    reader: IndexReader,
    parser: QueryParser,
    embeddings: Option<Vec<Vec<f32>>>,
}

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("passages", &self.passages.len())
            .field("embeddings", &self.embeddings.is_some())
            .finish()
    }
}

impl KnowledgeIndex {
    /// Indexes `(file_id, source, text)` passages; embeds them with `embedder` if given.
    pub async fn build(
        passages: Vec<(String, String, String)>,
        embedder: Option<&Arc<dyn Embedder>>,
    ) -> Result<Self, String> {
        let passages: Vec<Passage> = passages
            .into_iter()
            .map(|(file_id, source, text)| Passage {
                file_id,
                source,
                text,
            })
            .collect();
        let embeddings = match embedder {
            Some(e) if !passages.is_empty() => {
                let texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
                match e.embed(texts).await {
                    Ok(v) if v.len() == passages.len() => Some(v),
                    Ok(_) => None,
                    Err(err) => {
                        tracing::warn!(error = %err, "embedding the knowledge base failed; keyword search only");
                        None
                    }
                }
            }
            _ => None,
        };
        let texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
        let (reader, parser) = tokio::task::spawn_blocking(move || bm25_index(&texts))
            .await
            .map_err(|e| e.to_string())??;
        Ok(Self {
            passages,
            reader,
            parser,
            embeddings,
        })
    }

    /// How many passages it holds.
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// The best `k` passages for `query`.
    pub async fn search(
        &self,
        query: &str,
        embedder: Option<&Arc<dyn Embedder>>,
        k: usize,
    ) -> Vec<Hit> {
        let mut fused: HashMap<usize, f32> = HashMap::new();
        for (rank, i) in self.keyword(query).into_iter().enumerate() {
            *fused.entry(i).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        if let (Some(vectors), Some(e)) = (&self.embeddings, embedder)
            && let Ok(q) = e.embed(vec![query.to_owned()]).await
            && let Some(q) = q.first()
        {
            let mut sims: Vec<(usize, f32)> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (i, v.iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            sims.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (rank, (i, _)) in sims.into_iter().take(CANDIDATES).enumerate() {
                *fused.entry(i).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
            }
        }
        let mut ranked: Vec<(usize, f32)> = fused.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(k)
            .map(|(i, score)| {
                let p = &self.passages[i];
                Hit {
                    source: p.source.clone(),
                    file_id: p.file_id.clone(),
                    text: p.text.clone(),
                    score,
                }
            })
            .collect()
    }

    fn keyword(&self, query: &str) -> Vec<usize> {
        // the caller's words, not query syntax: keep letters and digits only
        let cleaned: String = query
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        if cleaned.trim().is_empty() {
            return Vec::new();
        }
        let (q, _) = self.parser.parse_query_lenient(&cleaned);
        let searcher = self.reader.searcher();
        let ord = searcher.schema().get_field("ord").expect("ord field");
        let Ok(top) = searcher.search(&q, &TopDocs::with_limit(CANDIDATES)) else {
            return Vec::new();
        };
        top.into_iter()
            .filter_map(|(_, addr)| {
                searcher
                    .doc::<TantivyDocument>(addr)
                    .ok()?
                    .get_first(ord)?
                    .as_u64()
                    .map(|o| o as usize)
            })
            .collect()
    }
}

fn bm25_index(texts: &[String]) -> Result<(IndexReader, QueryParser), String> {
    let mut schema = Schema::builder();
    let body = schema.add_text_field("body", TEXT);
    let ord = schema.add_u64_field("ord", INDEXED | STORED);
    let index = Index::create_in_ram(schema.build());
    let mut writer = index
        .writer_with_num_threads::<TantivyDocument>(1, 20_000_000)
        .map_err(|e| e.to_string())?;
    for (i, t) in texts.iter().enumerate() {
        writer
            .add_document(doc!(body => t.as_str(), ord => i as u64))
            .map_err(|e| e.to_string())?;
    }
    writer.commit().map_err(|e| e.to_string())?;
    let reader = index.reader().map_err(|e| e.to_string())?;
    // terms are OR-ed (the default): a question's words rarely all appear in its answer
    Ok((reader, QueryParser::for_index(&index, vec![body])))
}

/// One file set's index, built once by whichever call asks first.
type IndexCell = Arc<OnceCell<Arc<KnowledgeIndex>>>;

/// The indexes of every business's file sets, built on first use and shared.
pub struct KnowledgeBases {
    store: Store,
    embedder: Option<Arc<dyn Embedder>>,
    cache: Mutex<HashMap<Vec<String>, IndexCell>>,
}

impl std::fmt::Debug for KnowledgeBases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBases")
            .field("embedder", &self.embedder.is_some())
            .finish_non_exhaustive()
    }
}

impl KnowledgeBases {
    /// Over `store`'s files; `embedder` adds the semantic half of the search.
    pub fn new(store: Store, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            store,
            embedder,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The embedder queries use.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// The index of `file_ids` (of `business_id`), built once.
    pub async fn index(
        &self,
        business_id: &str,
        file_ids: &[String],
    ) -> Result<Arc<KnowledgeIndex>, String> {
        let mut key: Vec<String> = file_ids.to_vec();
        key.sort();
        key.dedup();
        key.insert(0, business_id.to_owned());
        let cell = self
            .cache
            .lock()
            .map_err(|_| "knowledge cache poisoned")?
            .entry(key.clone())
            .or_default()
            .clone();
        let built = cell
            .get_or_try_init(|| async {
                let mut passages = Vec::new();
                for id in &key[1..] {
                    let Some(f) = self.store.file(business_id, id).await.map_err(|e| e.to_string())? else { continue };
                    if f.status != "ready" {
                        continue;
                    }
                    for c in self.store.file_chunks(business_id, id).await.map_err(|e| e.to_string())? {
                        passages.push((f.id.clone(), f.display_name.clone(), c.text));
                    }
                }
                let started = std::time::Instant::now();
                let index = KnowledgeIndex::build(passages, self.embedder.as_ref()).await?;
                tracing::info!(business = %business_id, passages = index.len(), ms = started.elapsed().as_millis() as u64, "knowledge base indexed");
                Ok::<_, String>(Arc::new(index))
            })
            .await?;
        Ok(built.clone())
    }
}
