//! Interface settings changed through the API (`PATCH`/`GET`/`DELETE
//! /api/v1/interfaces/{device}/{ifIndex}`): validation, the file they persist in, the audit
//! trail, and where each field of an interface came from (rule, config override, API edit).
//!
//! The rule between a YAML override and an API edit of the same port: per field, the API edit
//! wins; fields the edit does not set keep the override's (or the rules') value; `DELETE`
//! removes the edit and the port returns to the override and rules. An edit is kept by device
//! and ifName, so it follows the port when a reboot renumbers ifIndex.
//!
//! Where edits live: with an inventory store, in its `interface_edits` table with the audit
//! trail in `interface_edit_audit` (the store is the source of truth: its edits are read when
//! the exporter first reaches it, an edits file found then is imported once, and the file is
//! kept only as a local copy, marked `"kept_in": "inventory_store"`, that the exporter runs
//! with until the store answers after a start); without one, in `NAME.interface-edits.json`
//! and `NAME.interface-edits.audit.jsonl` beside the config.
//!
//! Invariants: an edit is saved before it takes effect (the store's transaction committed, or
//! the file replaced atomically: written beside it, synced, renamed), so what runs is what a
//! restart loads; every change writes one audit record (who, when, old and new values) before
//! the answer; a bad body is a 400 naming the field and changes nothing; with a store
//! configured, an edit the store does not take is a 503 and changes nothing (never the file
//! instead); changes are serialised.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::db::Sink;
use crate::app::App;
use crate::classify::engine::Pin;
use crate::classify::{Classifier, InterfaceType, Override};
use crate::http::ApiError;
use crate::poller::unix_now;

/// The four settings an operator may change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isp_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_critical: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored: Option<bool>,
}

/// The fields a PATCH body may hold, for error messages.
const FIELDS: &str = "interface_type, isp_provider, is_critical, monitored";

/// One stored edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditEntry {
    pub device: String,
    pub if_name: String,
    /// The ifIndex when the edit was made (the edit follows the ifName).
    pub if_index: u32,
    #[serde(flatten)]
    pub edit: Edit,
    pub edited_by: String,
    /// Unix seconds.
    pub edited_at: f64,
}

/// The edits file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditsFile {
    /// `inventory_store` when the file is the local copy of the store's edits (not imported
    /// into the store again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept_in: Option<String>,
    edits: Vec<EditEntry>,
}

/// The `kept_in` of a local copy.
const KEPT_IN_STORE: &str = "inventory_store";

/// Why an edit was refused or could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Bad input: the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// The inventory store did not take the change (the text never holds the URL).
    #[error("{0}")]
    Store(String),
}

/// The effective values of the four settings, for the audit's old and new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub interface_type: String,
    pub isp_provider: Option<String>,
    pub is_critical: bool,
    pub monitored: bool,
}

/// Where each setting of an interface came from: `rule`, `config` or `api`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sources {
    pub interface_type: &'static str,
    pub isp_provider: &'static str,
    pub is_critical: &'static str,
    pub monitored: &'static str,
}

/// The API edits in force, the classifier they sit on, and where they are kept.
pub struct Edits {
    file: PathBuf,
    audit: PathBuf,
    state: Mutex<State_>,
    /// Serialises changes and taking over the store's edits.
    gate: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State_ {
    /// By (device, ifName).
    map: BTreeMap<(String, String), EditEntry>,
    /// The classifier of the config alone (no edits).
    base: Option<Classifier>,
    /// The inventory store's sink, once the writer opened it.
    sink: Option<Arc<dyn Sink>>,
    /// `map` is the store's (read from `sink`); otherwise it is the file's.
    from_store: bool,
}

/// What a change did.
pub struct Changed {
    /// The classifier to run with.
    pub classifier: Classifier,
    /// The port's edit now (`None`: removed).
    pub entry: Option<EditEntry>,
    /// Other devices whose edits changed because the store's edits were read first.
    pub also: Vec<String>,
}

impl Edits {
    /// Edits kept next to `config_file`: `NAME.interface-edits.json` and the audit trail
    /// `NAME.interface-edits.audit.jsonl`.
    pub fn beside(config_file: &Path) -> Edits {
        let stem = config_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "wardflux".into());
        let dir = config_file.parent().unwrap_or(Path::new("."));
        Edits {
            file: dir.join(format!("{stem}.interface-edits.json")),
            audit: dir.join(format!("{stem}.interface-edits.audit.jsonl")),
            state: Mutex::new(State_::default()),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn audit_file(&self) -> &Path {
        &self.audit
    }

    /// Read the edits file (a missing file is no edits), check each edit against the new
    /// classifier, and return that classifier with the edits on top. Nothing changes on error.
    ///
    /// Once the store's edits were read, they are kept (checked again, an edit the new rules
    /// refuse is left out with a warning) and the file is not read.
    pub fn load(&self, base: Classifier) -> Result<Classifier, EditError> {
        {
            let mut st = lock(&self.state);
            if st.from_store {
                let map = checked(std::mem::take(&mut st.map), &base);
                let classifier = base.with_api_pins(pins(&map, &base));
                st.map = map;
                st.base = Some(base);
                return Ok(classifier);
            }
        }
        let file = self.file.display().to_string();
        let entries = self.read_file()?.edits;
        let mut map = BTreeMap::new();
        for (i, e) in entries.into_iter().enumerate() {
            validate(&e.edit, None, &base).map_err(|m| EditError::File {
                file: file.clone(),
                message: format!("edits[{i}] ({} {}): {m}", e.device, e.if_name),
            })?;
            map.insert((e.device.clone(), e.if_name.clone()), e);
        }
        let classifier = base.with_api_pins(pins(&map, &base));
        let mut st = lock(&self.state);
        st.map = map;
        st.base = Some(base);
        Ok(classifier)
    }

    /// The edits file as it is (a missing file is no edits).
    fn read_file(&self) -> Result<EditsFile, EditError> {
        let file = self.file.display().to_string();
        match std::fs::read_to_string(&self.file) {
            Ok(text) => serde_json::from_str::<EditsFile>(&text).map_err(|e| EditError::File {
                file: file.clone(),
                message: format!("line {}: {e}", e.line()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(EditsFile::default()),
            Err(e) => Err(EditError::File {
                file,
                message: format!("cannot read: {e}"),
            }),
        }
    }

    /// The inventory store's sink as the writer opened it (`None`: no store configured any
    /// more, edits go back to the file). Its edits are read by [`Edits::attach`].
    pub fn set_sink(&self, sink: Option<Arc<dyn Sink>>) {
        let mut st = lock(&self.state);
        st.from_store = false;
        st.sink = sink;
    }

    /// Whether the edits in force are the store's.
    pub fn from_store(&self) -> bool {
        lock(&self.state).from_store
    }

    /// Read the store's edits and run with them: an edits file not imported yet is imported
    /// first (once; logged), then the file becomes the store's local copy. Returns the
    /// classifier and the devices whose edits changed. Nothing changes on error.
    pub async fn attach(
        &self,
        sink: Arc<dyn Sink>,
    ) -> Result<(Classifier, Vec<String>), EditError> {
        let _g = self.gate.lock().await;
        self.attach_locked(sink).await
    }

    async fn attach_locked(
        &self,
        sink: Arc<dyn Sink>,
    ) -> Result<(Classifier, Vec<String>), EditError> {
        let store_err = |e: super::db::StoreError| EditError::Store(e.to_string());
        let file = self.read_file();
        if let Ok(f) = &file {
            if f.kept_in.as_deref() != Some(KEPT_IN_STORE) && !f.edits.is_empty() {
                let n = sink.import_edits(&f.edits).await.map_err(store_err)?;
                tracing::info!(
                    file = %self.file.display(),
                    edits = f.edits.len(),
                    imported = n,
                    "inventory store: API edits imported from the edits file (once; the store keeps them from now on, the file is its local copy)"
                );
            }
        }
        let entries = sink.load_edits().await.map_err(store_err)?;
        let mut st = lock(&self.state);
        let Some(base) = st.base.clone() else {
            return Err(EditError::Invalid("configuration not loaded".into()));
        };
        let map = checked(
            entries
                .into_iter()
                .map(|e| ((e.device.clone(), e.if_name.clone()), e))
                .collect(),
            &base,
        );
        let mut also: Vec<String> = st
            .map
            .iter()
            .filter(|(k, v)| map.get(*k) != Some(*v))
            .chain(map.iter().filter(|(k, v)| st.map.get(*k) != Some(*v)))
            .map(|(k, _)| k.0.clone())
            .collect();
        also.sort();
        also.dedup();
        st.map = map;
        st.from_store = true;
        st.sink = Some(sink);
        let classifier = base.with_api_pins(pins(&st.map, &base));
        let copy = EditsFile {
            kept_in: Some(KEPT_IN_STORE.into()),
            edits: st.map.values().cloned().collect(),
        };
        drop(st);
        if let Err(e) = write_atomically(&self.file, &copy) {
            tracing::warn!(error = %e, "inventory store: local copy of the API edits not written");
        }
        Ok((classifier, also))
    }

    /// The edit of a port, if any.
    pub fn get(&self, device: &str, if_name: &str) -> Option<EditEntry> {
        lock(&self.state)
            .map
            .get(&(device.to_string(), if_name.to_string()))
            .cloned()
    }

    /// Merge `edit` into the port's edit (or remove the edit, with `None`), persist, audit,
    /// and return what to run with. `old` is what the port showed before; `settle` gives what
    /// it shows with a classifier (for the audit's new values and the store's row).
    /// `store_configured`: the config names an inventory store, so the change goes there or
    /// nowhere. `Ok(None)`: a delete with nothing to delete.
    #[allow(clippy::too_many_arguments)]
    pub async fn change(
        &self,
        device: &str,
        if_name: &str,
        if_index: u32,
        edit: Option<Edit>,
        user: &str,
        old: &Settings,
        store_configured: bool,
        settle: impl Fn(&Classifier) -> Option<Settings>,
    ) -> Result<Option<Changed>, EditError> {
        let _g = self.gate.lock().await;
        // A bad body is a 400 whatever state the store is in.
        if let Some(e) = &edit {
            let base = lock(&self.state).base.clone();
            if let Some(base) = base {
                validate(e, Some(&old.interface_type), &base).map_err(EditError::Invalid)?;
            }
        }
        let mut also = Vec::new();
        let sink = if store_configured {
            let (sink, from_store) = {
                let st = lock(&self.state);
                (st.sink.clone(), st.from_store)
            };
            let sink = sink.ok_or_else(|| EditError::Store("not opened yet".into()))?;
            if !from_store {
                also = self.attach_locked(sink.clone()).await?.1;
            }
            Some(sink)
        } else {
            None
        };
        let (map, new_entry, previous, base) = {
            let st = lock(&self.state);
            let Some(base) = st.base.clone() else {
                return Err(EditError::Invalid("configuration not loaded".into()));
            };
            let key = (device.to_string(), if_name.to_string());
            let mut map = st.map.clone();
            let new_entry = match edit {
                Some(e) => {
                    let mut merged = map.get(&key).map(|x| x.edit.clone()).unwrap_or_default();
                    if e.interface_type.is_some() {
                        merged.interface_type = e.interface_type;
                    }
                    if e.isp_provider.is_some() {
                        merged.isp_provider = e.isp_provider;
                    }
                    if e.is_critical.is_some() {
                        merged.is_critical = e.is_critical;
                    }
                    if e.monitored.is_some() {
                        merged.monitored = e.monitored;
                    }
                    validate(&merged, Some(&old.interface_type), &base)
                        .map_err(EditError::Invalid)?;
                    let entry = EditEntry {
                        device: device.to_string(),
                        if_name: if_name.to_string(),
                        if_index,
                        edit: merged,
                        edited_by: user.to_string(),
                        edited_at: unix_now(),
                    };
                    map.insert(key.clone(), entry.clone());
                    Some(entry)
                }
                None => {
                    if map.remove(&key).is_none() {
                        return Ok(None);
                    }
                    None
                }
            };
            let previous = st.map.get(&key).map(|e| e.edit.clone());
            (map, new_entry, previous, base)
        };
        let classifier = base.with_api_pins(pins(&map, &base));
        let new = settle(&classifier);
        let now = new_entry
            .as_ref()
            .map(|e| e.edited_at)
            .unwrap_or_else(unix_now);
        let action = if new_entry.is_some() {
            "patch"
        } else {
            "delete"
        };
        match &sink {
            Some(sink) => {
                let record = super::db::EditRecord {
                    device: device.to_string(),
                    if_name: if_name.to_string(),
                    if_index,
                    after: new_entry.clone(),
                    before: previous.clone(),
                    action,
                    user: user.to_string(),
                    at: now,
                    old: old.clone(),
                    new: new.clone(),
                };
                sink.save_edit(&record)
                    .await
                    .map_err(|e| EditError::Store(e.to_string()))?;
            }
            None => {
                write_atomically(
                    &self.file,
                    &EditsFile {
                        kept_in: None,
                        edits: map.values().cloned().collect(),
                    },
                )?;
            }
        }
        let copy = sink.as_ref().map(|_| EditsFile {
            kept_in: Some(KEPT_IN_STORE.into()),
            edits: map.values().cloned().collect(),
        });
        lock(&self.state).map = map;
        match copy {
            Some(copy) => {
                if let Err(e) = write_atomically(&self.file, &copy) {
                    tracing::warn!(error = %e, "inventory store: local copy of the API edits not written");
                }
            }
            None => self.append_audit(&serde_json::json!({
                "at": now,
                "user": user,
                "action": action,
                "device": device,
                "if_name": if_name,
                "if_index": if_index,
                "old": old,
                "new": new,
                "edit_before": previous,
                "edit_after": new_entry.as_ref().map(|e| &e.edit),
            }))?,
        }
        Ok(Some(Changed {
            classifier,
            entry: new_entry,
            also,
        }))
    }

    /// Append one line to the audit file and sync it.
    fn append_audit(&self, line: &serde_json::Value) -> Result<(), EditError> {
        let err = |e: std::io::Error| EditError::File {
            file: self.audit.display().to_string(),
            message: format!("cannot append: {e}"),
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.audit)
            .map_err(err)?;
        let mut text = line.to_string();
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)
    }

    /// Per-field provenance for every interface, for `/api/v1/interfaces`.
    pub fn provenance(&self, overrides: &[Override]) -> Provenance {
        let st = lock(&self.state);
        let mut by_index = HashMap::new();
        let mut by_name = HashMap::new();
        for o in overrides {
            let f = Fields {
                ty: o.ty.is_some(),
                provider: o.provider.is_some(),
                critical: o.critical.is_some(),
                monitored: o.monitored.is_some(),
            };
            match (&o.if_name, o.if_index) {
                (_, Some(ix)) => {
                    by_index.insert((o.device.clone(), ix), f);
                }
                (Some(n), None) => {
                    by_name.insert((o.device.clone(), n.clone()), f);
                }
                _ => {}
            }
        }
        let api = st
            .map
            .iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    Fields {
                        ty: e.edit.interface_type.is_some(),
                        provider: e.edit.isp_provider.is_some(),
                        critical: e.edit.is_critical.is_some(),
                        monitored: e.edit.monitored.is_some(),
                    },
                )
            })
            .collect();
        Provenance {
            by_index,
            by_name,
            api,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    ty: bool,
    provider: bool,
    critical: bool,
    monitored: bool,
}

/// Which fields config overrides and API edits set, port by port.
#[derive(Debug, Default)]
pub struct Provenance {
    by_index: HashMap<(String, u32), Fields>,
    by_name: HashMap<(String, String), Fields>,
    api: HashMap<(String, String), Fields>,
}

impl Provenance {
    /// Where each setting of this port came from.
    pub fn of(&self, device: &str, if_name: &str, if_index: u32) -> Sources {
        let config = self
            .by_index
            .get(&(device.to_string(), if_index))
            .or_else(|| self.by_name.get(&(device.to_string(), if_name.to_string())))
            .copied()
            .unwrap_or_default();
        let api = self
            .api
            .get(&(device.to_string(), if_name.to_string()))
            .copied()
            .unwrap_or_default();
        let pick = |a: bool, c: bool| {
            if a {
                "api"
            } else if c {
                "config"
            } else {
                "rule"
            }
        };
        Sources {
            interface_type: pick(api.ty, config.ty),
            isp_provider: pick(api.provider, config.provider),
            is_critical: pick(api.critical, config.critical),
            monitored: pick(api.monitored, config.monitored),
        }
    }
}

/// Parse a PATCH body: a JSON object with any of the four fields, each of its type.
pub fn parse_body(body: &[u8]) -> Result<Edit, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("body: not JSON ({e}); expected an object with any of {FIELDS}"))?;
    let serde_json::Value::Object(obj) = v else {
        return Err(format!("body: expected a JSON object with any of {FIELDS}"));
    };
    if obj.is_empty() {
        return Err(format!("body: give at least one of {FIELDS}"));
    }
    let mut edit = Edit::default();
    for (k, v) in obj {
        let want_str = |v: &serde_json::Value| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{k}: expected a string"))
        };
        let want_bool = |v: &serde_json::Value| {
            v.as_bool()
                .ok_or_else(|| format!("{k}: expected true or false"))
        };
        match k.as_str() {
            "interface_type" => edit.interface_type = Some(want_str(&v)?),
            "isp_provider" => edit.isp_provider = Some(want_str(&v)?),
            "is_critical" => edit.is_critical = Some(want_bool(&v)?),
            "monitored" => edit.monitored = Some(want_bool(&v)?),
            _ => {
                let shown: String = k.chars().take(64).collect();
                return Err(format!("{shown:?}: unknown field (fields: {FIELDS})"));
            }
        }
    }
    Ok(edit)
}

/// Check an edit against the rules' types and providers. `current_type` is the port's type
/// now, for a provider given without a type.
fn validate(edit: &Edit, current_type: Option<&str>, c: &Classifier) -> Result<(), String> {
    if let Some(t) = &edit.interface_type {
        if InterfaceType::parse(t).is_none() {
            let all: Vec<&str> = InterfaceType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "interface_type: unknown type {:?} (one of {})",
                shown(t),
                all.join(", ")
            ));
        }
    }
    if let Some(p) = &edit.isp_provider {
        if c.resolve_provider(p).is_none() {
            return Err(format!(
                "isp_provider: unknown provider {:?} (the rules' provider table names them)",
                shown(p)
            ));
        }
        let ty = edit.interface_type.as_deref().or(current_type);
        if ty.is_some_and(|t| t != "isp") {
            return Err("isp_provider: only meaningful with interface_type isp".into());
        }
    }
    Ok(())
}

/// The edits the rules accept; the others are left out with a warning naming the port.
fn checked(
    map: BTreeMap<(String, String), EditEntry>,
    base: &Classifier,
) -> BTreeMap<(String, String), EditEntry> {
    map.into_iter()
        .filter(|(k, e)| match validate(&e.edit, None, base) {
            Ok(()) => true,
            Err(m) => {
                tracing::warn!(device = %k.0, if_name = %k.1, problem = %m, "API edit left out: the rules refuse it");
                false
            }
        })
        .collect()
}

fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

fn pins(
    map: &BTreeMap<(String, String), EditEntry>,
    c: &Classifier,
) -> HashMap<(String, String), Pin> {
    map.iter()
        .map(|(k, e)| {
            (
                k.clone(),
                Pin {
                    ty: e
                        .edit
                        .interface_type
                        .as_deref()
                        .and_then(InterfaceType::parse),
                    provider: e
                        .edit
                        .isp_provider
                        .as_deref()
                        .and_then(|p| c.resolve_provider(p)),
                    critical: e.edit.is_critical,
                    monitored: e.edit.monitored,
                    id: Arc::from(format!("api:{}:{}", k.0, k.1)),
                },
            )
        })
        .collect()
}

/// Write `value` as JSON to `path` atomically: a temporary file beside it, synced, renamed
/// over it, and the directory synced.
fn write_atomically(path: &Path, value: &EditsFile) -> Result<(), EditError> {
    let err = |e: std::io::Error| EditError::File {
        file: path.display().to_string(),
        message: format!("cannot write: {e}"),
    };
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(value).map_err(|e| EditError::File {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.write_all(b"\n").map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------- HTTP

/// `GET`, `PATCH` and `DELETE /api/v1/interfaces/{device}/{ifIndex}`.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/v1/interfaces/{device}/{if_index}",
        get(get_one).patch(patch_one).delete(delete_one),
    )
}

type PortPath = Result<UrlPath<(String, String)>, PathRejection>;

/// The port a path names: its device, ifName, ifIndex and current settings.
fn port(app: &App, p: PortPath) -> Result<(String, String, u32, Settings), ApiError> {
    let UrlPath((device, ix)) = p?;
    let if_index: u32 = ix.parse().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("if_index: expected a number, got {:?}", shown(&ix)),
        )
    })?;
    let d = app.inventory.device(&device).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown device {:?}", shown(&device)),
        )
    })?;
    let e = d
        .inventory
        .as_ref()
        .and_then(|i| i.interfaces.iter().find(|e| e.info.if_index == if_index))
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("device {device:?} has no interface with ifIndex {if_index} (not discovered yet?)"),
            )
        })?;
    let settings = Settings {
        interface_type: e.class.interface_type.as_str().to_string(),
        isp_provider: e.class.isp_provider.as_deref().map(str::to_string),
        is_critical: e.class.is_critical,
        monitored: e.class.monitored,
    };
    Ok((device, e.name_text(), if_index, settings))
}

fn answer(app: &App, device: &str, if_index: u32, if_name: &str) -> Json<serde_json::Value> {
    let one = crate::http::interface_value(app, device, if_index);
    Json(serde_json::json!({
        "status": "success",
        "interface": one,
        "edit": app.edits.get(device, if_name),
    }))
}

async fn get_one(
    State(app): State<Arc<App>>,
    p: PortPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics
        .count_request("/api/v1/interfaces/{device}/{if_index}");
    let (device, name, ix, _) = port(&app, p)?;
    Ok(answer(&app, &device, ix, &name))
}

fn user(u: Option<Extension<wardflux_web::AuthenticatedUser>>) -> String {
    u.map(|Extension(u)| u.0)
        .unwrap_or_else(|| "anonymous".into())
}

/// What the port shows with `classifier` (its discovery reclassified, nothing applied).
fn settled(app: &App, device: &str, if_index: u32, classifier: &Classifier) -> Option<Settings> {
    let d = app.inventory.device(device)?;
    let inv = d.inventory.as_ref()?.reclassified(&d.target, classifier);
    let e = inv
        .interfaces
        .iter()
        .find(|e| e.info.if_index == if_index)?;
    Some(Settings {
        interface_type: e.class.interface_type.as_str().to_string(),
        isp_provider: e.class.isp_provider.as_deref().map(str::to_string),
        is_critical: e.class.is_critical,
        monitored: e.class.monitored,
    })
}

/// Run with `classifier`, reclassifying `devices`.
pub fn run_with(app: &App, classifier: Classifier, devices: &[String]) {
    let c = Arc::new(classifier);
    if devices.is_empty() {
        app.poller.set_classifier(c.clone(), "");
    }
    for d in devices {
        app.poller.set_classifier(c.clone(), d);
    }
}

async fn apply(
    app: &App,
    device: &str,
    name: &str,
    ix: u32,
    edit: Option<Edit>,
    who: &str,
    old: &Settings,
) -> Result<bool, ApiError> {
    let store_configured = app
        .current_config()
        .is_some_and(|c| c.inventory_store.is_some());
    let settle = |c: &Classifier| settled(app, device, ix, c);
    match app
        .edits
        .change(device, name, ix, edit, who, old, store_configured, settle)
        .await
    {
        Ok(Some(changed)) => {
            let mut devices = changed.also;
            devices.push(device.to_string());
            devices.sort();
            devices.dedup();
            run_with(app, changed.classifier, &devices);
            tracing::info!(user = %who, device = %device, if_index = ix, "interface settings changed through the API");
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(EditError::Invalid(m)) => Err(ApiError(StatusCode::BAD_REQUEST, m)),
        Err(EditError::Store(e)) => {
            tracing::warn!(error = %e, user = %who, device = %device, if_index = ix, "interface edit refused: the inventory store did not take it");
            Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "inventory store unavailable: the edit was not saved and nothing changed; try again when the store answers".into(),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "interface edit not kept");
            Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the edit could not be saved; nothing changed".into(),
            ))
        }
    }
}

async fn patch_one(
    State(app): State<Arc<App>>,
    u: Option<Extension<wardflux_web::AuthenticatedUser>>,
    p: PortPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics
        .count_request("/api/v1/interfaces/{device}/{if_index}");
    let body = body.map_err(|r| ApiError(r.status(), format!("body: {}", r.body_text())))?;
    let (device, name, ix, old) = port(&app, p)?;
    let edit = parse_body(&body).map_err(|m| ApiError(StatusCode::BAD_REQUEST, m))?;
    let who = user(u);
    apply(&app, &device, &name, ix, Some(edit), &who, &old).await?;
    Ok(answer(&app, &device, ix, &name))
}

async fn delete_one(
    State(app): State<Arc<App>>,
    u: Option<Extension<wardflux_web::AuthenticatedUser>>,
    p: PortPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.metrics
        .count_request("/api/v1/interfaces/{device}/{if_index}");
    let (device, name, ix, old) = port(&app, p)?;
    let who = user(u);
    if !apply(&app, &device, &name, ix, None, &who, &old).await? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no API edit for {device:?} ifIndex {ix}"),
        ));
    }
    Ok(answer(&app, &device, ix, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_field_by_field() {
        assert_eq!(
            parse_body(br#"{"is_critical": true, "interface_type": "isp"}"#).unwrap(),
            Edit {
                interface_type: Some("isp".into()),
                is_critical: Some(true),
                ..Edit::default()
            }
        );
        for (body, names) in [
            (&b"[1]"[..], "body:"),
            (b"{}", "body: give at least one"),
            (b"not json", "body: not JSON"),
            (
                br#"{"is_critical": "yes"}"#,
                "is_critical: expected true or false",
            ),
            (
                br#"{"monitored": null}"#,
                "monitored: expected true or false",
            ),
            (
                br#"{"interface_type": 3}"#,
                "interface_type: expected a string",
            ),
            (br#"{"colour": "red"}"#, "\"colour\": unknown field"),
        ] {
            let e = parse_body(body).unwrap_err();
            assert!(e.starts_with(names), "{e}");
        }
    }

    #[test]
    fn types_and_providers_are_checked_against_the_rules() {
        let c = Classifier::embedded_default();
        let e = |ty: Option<&str>, p: Option<&str>| Edit {
            interface_type: ty.map(str::to_string),
            isp_provider: p.map(str::to_string),
            ..Edit::default()
        };
        assert!(validate(&e(Some("isp"), Some("magti")), None, &c).is_ok());
        let m = validate(&e(Some("ips"), None), None, &c).unwrap_err();
        assert!(m.starts_with("interface_type: unknown type \"ips\""), "{m}");
        let m = validate(&e(None, Some("vodafone")), Some("isp"), &c).unwrap_err();
        assert!(m.starts_with("isp_provider: unknown provider"), "{m}");
        let m = validate(&e(None, Some("magti")), Some("access"), &c).unwrap_err();
        assert!(m.starts_with("isp_provider: only meaningful"), "{m}");
    }

    fn settings() -> Settings {
        Settings {
            interface_type: "access".into(),
            isp_provider: None,
            is_critical: false,
            monitored: true,
        }
    }

    #[tokio::test]
    async fn edits_persist_atomically_audit_and_load_again() {
        let dir = std::env::temp_dir().join(format!("wardflux-edits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let edits = Edits::beside(&dir.join("wardflux.yml"));
        edits.load(Classifier::embedded_default()).unwrap();
        let patch = Edit {
            interface_type: Some("isp".into()),
            isp_provider: Some("Magti".into()),
            ..Edit::default()
        };
        edits
            .change(
                "r1",
                "Gi0/1",
                1,
                Some(patch),
                "alice",
                &settings(),
                false,
                |_| None,
            )
            .await
            .unwrap()
            .unwrap();
        let more = Edit {
            is_critical: Some(false),
            ..Edit::default()
        };
        edits
            .change(
                "r1",
                "Gi0/1",
                1,
                Some(more),
                "bob",
                &settings(),
                false,
                |_| None,
            )
            .await
            .unwrap()
            .unwrap();
        // A second instance reading the same file sees the merged edit.
        let again = Edits::beside(&dir.join("wardflux.yml"));
        again.load(Classifier::embedded_default()).unwrap();
        let e = again.get("r1", "Gi0/1").unwrap();
        assert_eq!(e.edit.interface_type.as_deref(), Some("isp"));
        assert_eq!(e.edit.is_critical, Some(false));
        assert_eq!(e.edited_by, "bob");
        let audit = std::fs::read_to_string(edits.audit_file()).unwrap();
        let lines: Vec<serde_json::Value> = audit
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["user"], "alice");
        assert_eq!(lines[0]["old"]["interface_type"], "access");
        assert_eq!(lines[1]["edit_before"]["interface_type"], "isp");
        assert_eq!(lines[1]["edit_after"]["is_critical"], false);
        // A refused edit changes neither the file nor the audit.
        let before = std::fs::read_to_string(edits.file()).unwrap();
        let bad = Edit {
            interface_type: Some("nope".into()),
            ..Edit::default()
        };
        assert!(matches!(
            edits
                .change(
                    "r1",
                    "Gi0/1",
                    1,
                    Some(bad),
                    "eve",
                    &settings(),
                    false,
                    |_| None
                )
                .await,
            Err(EditError::Invalid(_))
        ));
        assert_eq!(std::fs::read_to_string(edits.file()).unwrap(), before);
        assert_eq!(std::fs::read_to_string(edits.audit_file()).unwrap(), audit);
        // DELETE: gone from the file; deleting again is "nothing to delete".
        for present in [true, false] {
            let r = edits
                .change("r1", "Gi0/1", 1, None, "alice", &settings(), false, |_| {
                    None
                })
                .await
                .unwrap();
            assert_eq!(r.is_some(), present);
        }
        let again = Edits::beside(&dir.join("wardflux.yml"));
        again.load(Classifier::embedded_default()).unwrap();
        assert!(again.get("r1", "Gi0/1").is_none());
        // A corrupt file is refused naming it.
        std::fs::write(edits.file(), "{\"edits\": [{\"device\": 1}]}").unwrap();
        let e = again.load(Classifier::embedded_default()).unwrap_err();
        assert!(
            e.to_string().contains("wardflux.interface-edits.json"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn api_edit_wins_over_a_yaml_override_field_by_field_and_delete_returns_to_it() {
        use crate::classify::{ClassificationConfig, IfFacts};
        let cfg: ClassificationConfig = serde_yaml::from_str(
            "overrides:\n  - {device: r1, if_name: Gi0/1, type: isp, provider: magti, critical: true}\n",
        )
        .unwrap();
        let base = cfg.build(Path::new(".")).unwrap();
        let labels = BTreeMap::new();
        let facts = IfFacts {
            device: "r1",
            device_labels: &labels,
            if_index: 1,
            alias: "to branch switch",
            descr: "",
            name: "Gi0/1",
            if_type: 6,
            speed_bps: 0,
            admin_up: true,
        };
        let mut map = BTreeMap::new();
        map.insert(
            ("r1".to_string(), "Gi0/1".to_string()),
            EditEntry {
                device: "r1".into(),
                if_name: "Gi0/1".into(),
                if_index: 1,
                edit: Edit {
                    isp_provider: Some("silknet".into()),
                    monitored: Some(false),
                    ..Edit::default()
                },
                edited_by: "alice".into(),
                edited_at: 0.0,
            },
        );
        let with = base.with_api_pins(pins(&map, &base));
        let c = with.classify(&facts);
        assert_eq!(
            c.interface_type,
            InterfaceType::Isp,
            "the override's type stays"
        );
        assert!(c.is_critical, "the override's criticality stays");
        assert_eq!(
            c.isp_provider.as_deref(),
            Some("silknet"),
            "the edit's provider wins"
        );
        assert!(!c.monitored, "the edit's monitored wins");
        let without = base.with_api_pins(HashMap::new()).classify(&facts);
        assert_eq!(without.isp_provider.as_deref(), Some("magti"));
        assert!(without.monitored);
        let st = State_ {
            map,
            ..State_::default()
        };
        let edits = Edits {
            file: PathBuf::new(),
            audit: PathBuf::new(),
            state: Mutex::new(st),
            gate: tokio::sync::Mutex::new(()),
        };
        let s = edits.provenance(&cfg.overrides).of("r1", "Gi0/1", 1);
        assert_eq!(
            (s.interface_type, s.isp_provider, s.is_critical, s.monitored),
            ("config", "api", "config", "api")
        );
        let s = edits.provenance(&cfg.overrides).of("r1", "Gi0/2", 2);
        assert_eq!(s.interface_type, "rule");
    }
}
