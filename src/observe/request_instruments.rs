//! The two instruments every HTTP request updates, `http_requests_total{route,method,status}`
//! and `http_request_duration_seconds{route}`, kept in shards: each thread adds to its own
//! cache line, and a scrape sums the shards. Prometheus's own counters and histograms are single
//! atomics shared by all cores, so two cores serving requests bounced those lines between them
//! several times per request (about 4 % of discovery's throughput).
//!
//! The values are exposed through the registry like any other instrument (a `Collector`), in
//! the same families, labels and buckets as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};

/// As many as the cores of the machines firmgate runs on; further threads share shards.
const SHARDS: usize = 8;

/// Most latency bounds a histogram may have (firmgate's has 15).
const MAX_BOUNDS: usize = 15;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

fn shard() -> usize {
    SHARD.with(|shard| *shard)
}

/// One cache line (two, for the CPUs that fetch lines in pairs) per shard.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Padded<T>(T);

#[derive(Debug, Default)]
pub struct ShardedCounter {
    shards: [Padded<AtomicU64>; SHARDS],
}

impl ShardedCounter {
    pub fn inc(&self) {
        if let Some(mine) = self.shards.get(shard()) {
            mine.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// Inline, so that the counts stay within the shard's own cache lines.
#[derive(Debug, Default)]
struct LatencyShard {
    /// Observations per bucket, not cumulative; the one after the last bound counts those
    /// above every bound.
    buckets: [AtomicU64; MAX_BOUNDS + 1],
    nanos: AtomicU64,
}

#[derive(Debug)]
pub struct ShardedHistogram {
    /// At most `MAX_BOUNDS`, strictly ascending (checked by `RequestInstruments::new`).
    bounds: &'static [f64],
    shards: [Padded<LatencyShard>; SHARDS],
}

impl ShardedHistogram {
    fn new(bounds: &'static [f64]) -> ShardedHistogram {
        ShardedHistogram {
            bounds,
            shards: Default::default(),
        }
    }

    pub fn observe(&self, seconds: f64) {
        let Some(Padded(mine)) = self.shards.get(shard()) else {
            return;
        };
        // The first bucket whose bound is at least `seconds`; past the last, the overflow one.
        let bucket = self.bounds.partition_point(|bound| *bound < seconds);
        if let Some(count) = mine.buckets.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Saturating float-to-int: a negative or absurd duration cannot wrap the sum.
        mine.nanos
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    fn proto(&self) -> proto::Histogram {
        let mut per_bucket = vec![0u64; self.bounds.len() + 1];
        let mut nanos = 0u64;
        for shard in &self.shards {
            for (total, count) in per_bucket.iter_mut().zip(&shard.0.buckets) {
                *total += count.load(Ordering::Relaxed);
            }
            nanos = nanos.wrapping_add(shard.0.nanos.load(Ordering::Relaxed));
        }
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (bound, count) in self.bounds.iter().zip(&per_bucket) {
            cumulative += count;
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(*bound);
            bucket.set_cumulative_count(cumulative);
            buckets.push(bucket);
        }
        let mut histogram = proto::Histogram::default();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(per_bucket.iter().sum());
        histogram.set_sample_sum(nanos as f64 / 1e9);
        histogram
    }
}

type CounterKey = (Box<str>, &'static str, u16);

/// Every route's instruments, created on first use and kept for the life of the process (the
/// labels come from bounded sets, see `metrics`).
#[derive(Debug)]
pub struct RequestInstruments {
    buckets: &'static [f64],
    counters: Mutex<HashMap<CounterKey, Arc<ShardedCounter>>>,
    latencies: Mutex<HashMap<Box<str>, Arc<ShardedHistogram>>>,
    requests_desc: Desc,
    latency_desc: Desc,
}

impl RequestInstruments {
    pub fn new(
        buckets: &'static [f64],
        requests: (&str, &str),
        latency: (&str, &str),
    ) -> prometheus::Result<RequestInstruments> {
        if buckets.len() > MAX_BOUNDS || !buckets.is_sorted_by(|a, b| a < b) {
            return Err(prometheus::Error::Msg(format!(
                "latency bounds must be strictly ascending and at most {MAX_BOUNDS}"
            )));
        }
        let desc = |(name, help): (&str, &str), labels: &[&str]| {
            Desc::new(
                name.to_owned(),
                help.to_owned(),
                labels.iter().map(|l| (*l).to_owned()).collect(),
                HashMap::new(),
            )
        };
        Ok(RequestInstruments {
            buckets,
            counters: Mutex::default(),
            latencies: Mutex::default(),
            requests_desc: desc(requests, &["route", "method", "status"])?,
            latency_desc: desc(latency, &["route"])?,
        })
    }

    pub fn counter(&self, route: &str, method: &'static str, status: u16) -> Arc<ShardedCounter> {
        locked(&self.counters)
            .entry((route.into(), method, status))
            .or_default()
            .clone()
    }

    pub fn latency(&self, route: &str) -> Arc<ShardedHistogram> {
        locked(&self.latencies)
            .entry(route.into())
            .or_insert_with(|| Arc::new(ShardedHistogram::new(self.buckets)))
            .clone()
    }
}

/// The tables hold only counts, which a panic elsewhere cannot leave half-written.
fn locked<T>(table: &Mutex<T>) -> MutexGuard<'_, T> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Label pairs sorted by name, as the text encoder expects.
fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    let mut labels: Vec<LabelPair> = pairs
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect();
    labels.sort_by(|a, b| a.name().cmp(b.name()));
    labels
}

fn family(desc: &Desc, kind: MetricType, metrics: Vec<proto::Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

/// The registry owns its collectors; this shares the instruments with the request path.
pub struct Collected(pub Arc<RequestInstruments>);

impl Collector for Collected {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.requests_desc, &self.0.latency_desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let instruments = &self.0;
        let counters: Vec<proto::Metric> = locked(&instruments.counters)
            .iter()
            .map(|((route, method, status), counter)| {
                let status = status.to_string();
                let mut metric = proto::Metric::from_label(labels(&[
                    ("route", route),
                    ("method", method),
                    ("status", &status),
                ]));
                let mut value = proto::Counter::default();
                value.set_value(counter.get() as f64);
                metric.set_counter(value);
                metric
            })
            .collect();
        let latencies: Vec<proto::Metric> = locked(&instruments.latencies)
            .iter()
            .map(|(route, histogram)| {
                let mut metric = proto::Metric::from_label(labels(&[("route", route)]));
                metric.set_histogram(histogram.proto());
                metric
            })
            .collect();
        vec![
            family(&instruments.requests_desc, MetricType::COUNTER, counters),
            family(&instruments.latency_desc, MetricType::HISTOGRAM, latencies),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: &[f64] = &[0.001, 0.01, 0.1];

    #[test]
    fn counts_from_many_threads_add_up() {
        let counter = Arc::new(ShardedCounter::default());
        let threads: Vec<_> = (0..24)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| counter.inc()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counter.get(), 24_000);
    }

    #[test]
    fn the_histogram_is_cumulative_with_bounds_inclusive_and_a_sum() {
        let histogram = ShardedHistogram::new(BOUNDS);
        for seconds in [0.0005, 0.001, 0.005, 0.05, 0.05, 2.0] {
            histogram.observe(seconds);
        }
        let proto = histogram.proto();
        let cumulative: Vec<u64> = proto
            .get_bucket()
            .iter()
            .map(|b| b.cumulative_count())
            .collect();
        let bounds: Vec<f64> = proto.get_bucket().iter().map(|b| b.upper_bound()).collect();
        assert_eq!(bounds, BOUNDS);
        // le=0.001 holds 0.0005 and 0.001 (Prometheus buckets are "less than or equal").
        assert_eq!(cumulative, [2, 3, 5]);
        assert_eq!(proto.get_sample_count(), 6);
        assert!((proto.get_sample_sum() - 2.1065).abs() < 1e-9);
    }

    #[test]
    fn bounds_that_do_not_fit_a_shard_or_are_out_of_order_are_refused() {
        static TOO_MANY: [f64; MAX_BOUNDS + 1] = [0.5; MAX_BOUNDS + 1];
        let names = (("r_total", "r"), ("l_seconds", "l"));
        assert!(RequestInstruments::new(&TOO_MANY, names.0, names.1).is_err());
        assert!(RequestInstruments::new(&[0.1, 0.01], names.0, names.1).is_err());
        assert!(RequestInstruments::new(&[0.1, 0.1], names.0, names.1).is_err());
        assert!(RequestInstruments::new(BOUNDS, names.0, names.1).is_ok());
    }

    #[test]
    fn the_registry_renders_the_same_families_as_before() {
        let instruments = Arc::new(
            RequestInstruments::new(
                BOUNDS,
                ("t_requests_total", "Requests"),
                ("t_seconds", "Latency"),
            )
            .unwrap(),
        );
        let registry = prometheus::Registry::new_custom(Some("x".into()), None).unwrap();
        registry
            .register(Box::new(Collected(instruments.clone())))
            .unwrap();
        instruments.counter("/jwks", "GET", 200).inc();
        instruments.counter("/jwks", "GET", 200).inc();
        instruments.counter("/token", "POST", 400).inc();
        instruments.latency("/jwks").observe(0.0002);
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            "# TYPE x_t_requests_total counter",
            "x_t_requests_total{method=\"GET\",route=\"/jwks\",status=\"200\"} 2",
            "x_t_requests_total{method=\"POST\",route=\"/token\",status=\"400\"} 1",
            "# TYPE x_t_seconds histogram",
            "x_t_seconds_bucket{route=\"/jwks\",le=\"0.001\"} 1",
            "x_t_seconds_bucket{route=\"/jwks\",le=\"+Inf\"} 1",
            "x_t_seconds_count{route=\"/jwks\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from {text}"
            );
        }
    }
}
