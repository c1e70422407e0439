//! The keyword index of every vault's passages (tantivy: BM25 over title, heading, tags and
//! aliases, and text, with the mixed-script analyzer of [`crate::tokenize`]).
//!
//! One index for all vaults, in `DATA_DIR/notes/index`; each passage is a document keyed by
//! its note (`vault` + path), so a changed note's passages are replaced in one step. Readers
//! never lock: `hearth notes search` works while the bot runs. Only the indexer writes, and
//! it takes tantivy's writer lock for the length of one update.

use std::path::Path;

use chrono::NaiveDate;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::NotesError;
use crate::tokenize::{self, ANALYZER};

/// Fields of a passage document.
#[derive(Clone, Copy, Debug)]
struct Fields {
    /// `vault` + U+001F + path: the note a passage belongs to.
    note: Field,
    vault: Field,
    path: Field,
    title: Field,
    heading: Field,
    /// Aliases and tags.
    meta: Field,
    text: Field,
    /// The note's date, `YYYY-MM-DD`, or empty.
    date: Field,
    /// xxh3 of the text the embedding model reads ([`embed_text`]): the key of the
    /// passage's vector.
    hash: Field,
}

/// A passage found by a search: the core's [`NoteHit`] (vault, path, title, heading, text,
/// date, BM25 score).
pub use bot_core::notes::NoteHit as Hit;

/// A passage to store.
#[derive(Clone, Debug)]
pub struct PassageDoc<'a> {
    /// The vault.
    pub vault: &'a str,
    /// The note's path.
    pub path: &'a str,
    /// The note's title.
    pub title: &'a str,
    /// Aliases and tags, space-separated.
    pub meta: &'a str,
    /// The heading path.
    pub heading: &'a str,
    /// The text.
    pub text: &'a str,
    /// The note's date.
    pub date: Option<NaiveDate>,
    /// xxh3 of [`embed_text`] of the passage.
    pub hash: u64,
}

/// A passage found, with the hash of its text (the key of its vector).
#[derive(Clone, Debug)]
pub struct Found {
    /// The passage.
    pub hit: Hit,
    /// xxh3 of [`embed_text`].
    pub hash: u64,
}

/// What the embedding model reads of a passage: "title › heading" on a line, then the text.
pub fn embed_text(title: &str, heading: &str, text: &str) -> String {
    if heading.is_empty() {
        format!("{title}\n{text}")
    } else {
        format!("{title} › {heading}\n{text}")
    }
}

/// The hash of [`embed_text`].
pub fn text_hash(embed_text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(embed_text.as_bytes())
}

/// The passages index on disk.
pub struct NotesIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

/// Memory the writer may use while indexing (tantivy's minimum is 15 MB).
const WRITER_HEAP: usize = 32 << 20;
/// At most this many passages of one note in one result list.
pub(crate) const PER_NOTE: usize = 2;

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analyzed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        note: builder.add_text_field("note", STRING),
        vault: builder.add_text_field("vault", STRING | STORED),
        path: builder.add_text_field("path", STORED),
        title: builder.add_text_field("title", analyzed.clone()),
        heading: builder.add_text_field("heading", analyzed.clone()),
        meta: builder.add_text_field("meta", analyzed.clone()),
        text: builder.add_text_field("text", analyzed),
        date: builder.add_text_field("date", STORED),
        hash: builder.add_u64_field("hash", INDEXED | STORED),
    };
    (builder.build(), fields)
}

fn note_key(vault: &str, path: &str) -> String {
    format!("{vault}\u{1f}{path}")
}

impl NotesIndex {
    /// Opens the index in `dir`, creating it if there is none.
    pub fn open(dir: &Path) -> Result<Self, NotesError> {
        std::fs::create_dir_all(dir).map_err(|e| NotesError::io(dir, e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| NotesError::Index(e.to_string()))?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            // An index an older Hearth made: the manifest then starts afresh too (it finds
            // no passages), so every note is read again.
            Err(tantivy::TantivyError::SchemaError(_)) => {
                tracing::info!(dir = %dir.display(), "the notes index was made by an older version; building it again");
                std::fs::remove_dir_all(dir).map_err(|e| NotesError::io(dir, e))?;
                std::fs::create_dir_all(dir).map_err(|e| NotesError::io(dir, e))?;
                Index::create_in_dir(dir, schema)?
            }
            other => other?,
        };
        index.tokenizers().register(ANALYZER, tokenize::analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            fields,
        })
    }

    /// A writer, holding the index's write lock until dropped.
    pub fn writer(&self) -> Result<IndexWriter, NotesError> {
        match self.index.writer(WRITER_HEAP) {
            Ok(writer) => Ok(writer),
            Err(tantivy::TantivyError::LockFailure(..)) => Err(NotesError::Busy),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces every passage of note `path` in `vault` with `passages` (none: removes it).
    pub fn replace_note(
        &self,
        writer: &IndexWriter,
        vault: &str,
        path: &str,
        passages: &[PassageDoc<'_>],
    ) -> Result<(), NotesError> {
        let f = self.fields;
        let key = note_key(vault, path);
        writer.delete_term(Term::from_field_text(f.note, &key));
        for p in passages {
            let mut doc = TantivyDocument::default();
            doc.add_text(f.note, &key);
            doc.add_text(f.vault, p.vault);
            doc.add_text(f.path, p.path);
            doc.add_text(f.title, p.title);
            doc.add_text(f.heading, p.heading);
            doc.add_text(f.meta, p.meta);
            doc.add_text(f.text, p.text);
            doc.add_text(f.date, p.date.map(|d| d.to_string()).unwrap_or_default());
            doc.add_u64(f.hash, p.hash);
            writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes every passage of `vault`.
    pub fn remove_vault(&self, writer: &IndexWriter, vault: &str) {
        writer.delete_term(Term::from_field_text(self.fields.vault, vault));
    }

    /// Makes the latest commit visible to searches in this process.
    pub fn reload(&self) -> Result<(), NotesError> {
        self.reader.reload()?;
        Ok(())
    }

    /// The best passages for `query` in the given vaults (all when empty), best first, at
    /// most two per note.
    pub fn search(
        &self,
        query: &str,
        vaults: &[&str],
        limit: usize,
    ) -> Result<Vec<Found>, NotesError> {
        let f = self.fields;
        let terms = tokenize::terms(query);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut unique = terms;
        unique.sort();
        unique.dedup();
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in [
            (f.title, 2.0),
            (f.heading, 1.5),
            (f.meta, 1.5),
            (f.text, 1.0),
        ] {
            for term in &unique {
                let q = TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                );
                should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))));
            }
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        if !vaults.is_empty() {
            let any_vault = vaults
                .iter()
                .map(|v| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(f.vault, v),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            clauses.push((
                Occur::Must,
                Box::new(BoostQuery::new(Box::new(BooleanQuery::new(any_vault)), 0.0)),
            ));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit * 4 + 8),
        )?;
        let mut hits: Vec<Found> = Vec::new();
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let found = self.found(&doc, score);
            let same_note = hits
                .iter()
                .filter(|h| h.hit.vault == found.hit.vault && h.hit.path == found.hit.path)
                .count();
            if same_note < PER_NOTE {
                hits.push(found);
            }
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    fn found(&self, doc: &TantivyDocument, score: f32) -> Found {
        let f = self.fields;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        Found {
            hit: Hit {
                vault: text(f.vault),
                path: text(f.path),
                title: text(f.title),
                heading: text(f.heading),
                text: text(f.text),
                date: text(f.date).parse().ok(),
                score,
            },
            hash: doc.get_first(f.hash).and_then(|v| v.as_u64()).unwrap_or(0),
        }
    }

    /// The passages whose [`embed_text`] hashes to `hash` (more than one when notes share a
    /// passage word for word), with score 0.
    pub fn by_hash(&self, hash: u64) -> Result<Vec<Found>, NotesError> {
        let query = TermQuery::new(
            Term::from_field_u64(self.fields.hash, hash),
            IndexRecordOption::Basic,
        );
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(16))?;
        let mut out = Vec::with_capacity(top.len());
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            out.push(self.found(&doc, 0.0));
        }
        Ok(out)
    }

    /// How many passages the index holds for `vault`.
    pub fn passages_in(&self, vault: &str) -> Result<usize, NotesError> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.vault, vault),
            IndexRecordOption::Basic,
        );
        Ok(self
            .reader
            .searcher()
            .search(&query, &tantivy::collector::Count)?)
    }
}
