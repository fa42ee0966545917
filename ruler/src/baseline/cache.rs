//! The baselines of the bucket evaluated now, read from the store once per bucket change
//! (and again after learning), shared by live detection and replay.

use super::bucket::Bucket;
use super::detect::BucketBaselines;
use crate::store::{Store, StoreError};
use std::sync::Arc;

/// A one-bucket cache in front of the store.
pub struct BaselineCache {
    store: Arc<dyn Store>,
    current: tokio::sync::Mutex<Option<(Bucket, Arc<BucketBaselines>)>>,
}

impl BaselineCache {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(BaselineCache {
            store,
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// Baselines of `bucket`, from memory when it is the bucket asked for last.
    pub async fn get(&self, bucket: Bucket) -> Result<Arc<BucketBaselines>, StoreError> {
        let mut cur = self.current.lock().await;
        if let Some((b, map)) = cur.as_ref() {
            if *b == bucket {
                return Ok(map.clone());
            }
        }
        let rows = self.store.bucket_baselines(bucket).await?;
        let map: BucketBaselines = rows
            .into_iter()
            .map(|r| ((r.device, r.if_name, r.direction), r.stats))
            .collect();
        let map = Arc::new(map);
        *cur = Some((bucket, map.clone()));
        Ok(map)
    }

    /// Forgets what was read, after new baselines were learned.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}
