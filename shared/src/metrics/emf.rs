//! One CloudWatch Embedded Metric Format object: the `_aws` metadata (timestamp, namespace,
//! dimension sets, metric names and units) and, at the root, the dimension values and the metric
//! values it describes. Pure: building and rendering, no I/O. The limits CloudWatch enforces are
//! kept by construction: at most [`MAX_METRICS`] metrics per object (a larger set renders as
//! several objects with the same dimensions), at most [`MAX_DIMENSIONS`] dimensions per set, at
//! most [`MAX_VALUES`] values per metric, and only finite numbers as values.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Metrics one object may declare.
pub const MAX_METRICS: usize = 100;
/// Dimensions one dimension set may hold.
pub const MAX_DIMENSIONS: usize = 30;
/// Values one metric may carry in an object (an array of values).
pub const MAX_VALUES: usize = 100;

/// The units this integration uses (CloudWatch's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
    None,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
            Self::None => "None",
        }
    }
}

/// A set of metrics sharing their dimensions and timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSet {
    timestamp: DateTime<Utc>,
    /// Dimension names and values, in order; the first set is all of them.
    dimensions: Vec<(String, String)>,
    /// Also aggregate over the first `n` dimensions alone (e.g. `Function` without `Outcome`).
    rollups: Vec<usize>,
    metrics: Vec<(&'static str, Unit, Vec<f64>)>,
}

impl MetricSet {
    pub fn new(timestamp: DateTime<Utc>) -> Self {
        Self {
            timestamp,
            dimensions: Vec::new(),
            rollups: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// Adds a dimension (ignored past [`MAX_DIMENSIONS`], or when the name is taken). Values
    /// are cut to 250 characters, CloudWatch's limit.
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        if self.dimensions.len() < MAX_DIMENSIONS && !self.dimensions.iter().any(|(n, _)| n == name)
        {
            let value: String = value.chars().take(250).collect();
            self.dimensions.push((name.to_owned(), value));
        }
        self
    }

    /// Also declares the dimension set made of the first `count` dimensions, so the same values
    /// are aggregated with fewer dimensions too.
    pub fn rollup(mut self, count: usize) -> Self {
        if count <= self.dimensions.len() && !self.rollups.contains(&count) {
            self.rollups.push(count);
        }
        self
    }

    /// Adds one value of a metric (values of the same metric accumulate; non-finite ones are
    /// dropped, and so are values past [`MAX_VALUES`]).
    pub fn value(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.push(name, unit, value);
        self
    }

    /// Adds one value, in place.
    pub fn push(&mut self, name: &'static str, unit: Unit, value: f64) {
        if !value.is_finite() {
            return;
        }
        match self.metrics.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, values)) if values.len() < MAX_VALUES => values.push(value),
            Some(_) => {}
            None => self.metrics.push((name, unit, vec![value])),
        }
    }

    /// Adds `delta` to the metric's first value (declaring it with `delta` when absent), so a
    /// count stays one number.
    pub fn add_to_first(&mut self, name: &'static str, delta: f64) {
        match self.metrics.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, values)) => match values.first_mut() {
                Some(first) => *first += delta,
                None => values.push(delta),
            },
            None => self.push(name, Unit::Count, delta),
        }
    }

    /// A count (a convenience for [`Self::value`] with [`Unit::Count`]).
    pub fn count(self, name: &'static str, value: u64) -> Self {
        self.value(name, Unit::Count, value as f64)
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The metric names in this set.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.metrics.iter().map(|(name, _, _)| *name)
    }

    /// The JSON objects of this set, one per [`MAX_METRICS`] metrics; none when it is empty.
    pub fn render(&self, namespace: &str) -> Vec<Value> {
        let names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let mut sets = vec![json!(names)];
        for &count in &self.rollups {
            if count < names.len() {
                sets.push(json!(names[..count]));
            }
        }
        self.metrics
            .chunks(MAX_METRICS)
            .map(|chunk| {
                let mut object = Map::new();
                let declared: Vec<Value> = chunk
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect();
                object.insert(
                    "_aws".to_owned(),
                    json!({
                        "Timestamp": self.timestamp.timestamp_millis(),
                        "CloudWatchMetrics": [{
                            "Namespace": namespace,
                            "Dimensions": sets,
                            "Metrics": declared,
                        }],
                    }),
                );
                for (name, value) in &self.dimensions {
                    object.insert(name.clone(), json!(value));
                }
                for (name, _, values) in chunk {
                    let value = match values.as_slice() {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    object.insert((*name).to_owned(), value);
                }
                Value::Object(object)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_123).unwrap()
    }

    /// Checks what CloudWatch checks: the metadata names exactly the root's dimensions and
    /// metrics, values are numbers or arrays of numbers, and the limits hold.
    fn assert_valid(object: &Value) {
        let aws = &object["_aws"];
        assert!(aws["Timestamp"].is_i64());
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert!(directive["Namespace"].is_string());
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(set.len() <= MAX_DIMENSIONS);
            for name in set {
                assert!(object[name.as_str().unwrap()].is_string(), "{name}");
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= MAX_METRICS);
        for metric in metrics {
            let value = &object[metric["Name"].as_str().unwrap()];
            match value {
                Value::Number(_) => {}
                Value::Array(values) => {
                    assert!(values.len() <= MAX_VALUES);
                    assert!(values.iter().all(Value::is_number));
                }
                other => panic!("not a number: {other}"),
            }
        }
        // Nothing at the root that the metadata does not describe.
        let declared = 1 + metrics.len() + directive["Dimensions"][0].as_array().unwrap().len();
        assert_eq!(object.as_object().unwrap().len(), declared, "{object}");
    }

    #[test]
    fn one_set_is_one_object_whose_metadata_matches_its_values() {
        let set = MetricSet::new(at())
            .dimension("Function", "worker")
            .dimension("Kind", "repository")
            .count("EventsApplied", 2)
            .value("QueueLag", Unit::Milliseconds, 1_500.0)
            .value("QueueLag", Unit::Milliseconds, 250.0);
        let objects = set.render("PortGitHub");
        assert_eq!(objects.len(), 1);
        let object = &objects[0];
        assert_valid(object);
        let line = object.to_string();
        assert!(!line.contains('\n'));
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["_aws"]["Timestamp"], 1_800_000_000_123i64);
        let directive = &back["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "PortGitHub");
        assert_eq!(directive["Dimensions"], json!([["Function", "Kind"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "EventsApplied", "Unit": "Count"},
                   {"Name": "QueueLag", "Unit": "Milliseconds"}])
        );
        assert_eq!(back["Function"], "worker");
        assert_eq!(back["Kind"], "repository");
        assert_eq!(back["EventsApplied"], 2.0);
        assert_eq!(back["QueueLag"], json!([1_500.0, 250.0]));
    }

    #[test]
    fn a_rollup_declares_the_shorter_dimension_set_too() {
        let set = MetricSet::new(at())
            .dimension("Function", "webhook")
            .dimension("Outcome", "queued")
            .rollup(1)
            .rollup(1)
            .rollup(7)
            .count("Deliveries", 1);
        let object = &set.render("N")[0];
        assert_valid(object);
        assert_eq!(
            object["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Outcome"], ["Function"]])
        );
    }

    #[test]
    fn the_limits_hold_whatever_is_added() {
        const NAMES: [&str; 3] = ["A", "B", "C"];
        let mut set = MetricSet::new(at());
        for index in 0..40 {
            set = set.dimension(&format!("D{index}"), &"v".repeat(300));
        }
        set = set.dimension("D0", "again");
        for value in 0..150 {
            set.push(NAMES[value % 3], Unit::Count, value as f64);
        }
        set.push("A", Unit::Count, f64::NAN);
        set.push("D", Unit::Count, f64::INFINITY);
        let objects = set.render("N");
        assert_eq!(objects.len(), 1);
        assert_valid(&objects[0]);
        assert_eq!(objects[0]["D0"].as_str().unwrap().len(), 250);
        assert_eq!(objects[0]["A"].as_array().unwrap().len(), 50);
        assert!(
            objects[0].get("D").is_none(),
            "a non-finite value is dropped"
        );
    }

    #[test]
    fn more_than_a_hundred_metrics_split_into_objects_with_the_same_dimensions() {
        let names: Vec<&'static str> = (0..230)
            .map(|i| &*Box::leak(format!("M{i}").into_boxed_str()))
            .collect();
        let mut set = MetricSet::new(at()).dimension("Function", "resync");
        for name in &names {
            set.push(name, Unit::Count, 1.0);
        }
        let objects = set.render("N");
        assert_eq!(objects.len(), 3);
        let mut seen = 0;
        for object in &objects {
            assert_valid(object);
            assert_eq!(object["Function"], "resync");
            seen += object["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len();
        }
        assert_eq!(seen, 230);
        assert!(MetricSet::new(at()).render("N").is_empty());
    }
}
