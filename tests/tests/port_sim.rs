//! The Port simulator itself, over raw HTTP: it must refuse what Port refuses, with Port's error
//! body, and never fall over on a bad request.

use port_github_simulators::port_sim::harness::blueprints_fixture;
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, Fault, PortSim};
use serde_json::{Value, json};

struct Raw {
    sim: PortSim,
    http: reqwest::Client,
    token: String,
}

impl Raw {
    async fn start() -> anyhow::Result<Raw> {
        let sim = PortSim::start_with_blueprints_file(&blueprints_fixture()).await?;
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{}/v1/auth/access_token", sim.base_url()))
            .json(&json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}))
            .send()
            .await?
            .json()
            .await?;
        let token = answer["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(!token.is_empty(), "no token in {answer}");
        Ok(Raw { sim, http, token })
    }

    async fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("user-agent", "port-ocean/raw/1/raw-test/exporter")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

fn bulk_of(count: usize) -> String {
    let entities: Vec<Value> = (0..count)
        .map(|i| json!({"identifier": format!("e{i}")}))
        .collect();
    json!({ "entities": entities }).to_string()
}

#[tokio::test]
async fn bulk_upserts_take_one_to_twenty_entities() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let path = "/v1/blueprints/githubOrganization/entities/bulk?upsert=true";
    let (status, body) = raw.post(path, bulk_of(21)).await?;
    assert_eq!(
        (status, body["ok"].clone(), body["error"].clone()),
        (422, json!(false), json!("invalid_request"))
    );
    assert_eq!(raw.post(path, bulk_of(0)).await?.0, 422);
    let (status, body) = raw.post(path, bulk_of(20)).await?;
    assert_eq!(status, 200);
    assert_eq!(body["entities"].as_array().map(Vec::len), Some(20));
    assert_eq!(raw.sim.entities_of("githubOrganization").len(), 20);
    let datasources: Vec<Option<String>> = raw
        .sim
        .catalog()
        .into_iter()
        .map(|e| e.datasource)
        .take(1)
        .collect();
    assert_eq!(
        datasources,
        vec![Some("port-ocean/raw/1/raw-test/exporter".to_owned())]
    );
    Ok(())
}

#[tokio::test]
async fn bodies_over_one_mebibyte_get_413() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let big = json!({"identifier": "big", "properties": {"description": "d".repeat(1024 * 1024)}})
        .to_string();
    let (status, body) = raw
        .post(
            "/v1/blueprints/githubOrganization/entities?upsert=true",
            big,
        )
        .await?;
    assert_eq!(
        (status, body["error"].clone()),
        (413, json!("payload_too_large"))
    );
    assert!(raw.sim.catalog().is_empty());
    Ok(())
}

#[tokio::test]
async fn requests_need_a_valid_token() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let url = format!("{}/v1/entities/search", raw.sim.base_url());
    let query = json!({"combinator": "and", "rules": []});
    let anonymous = raw
        .http
        .post(&url)
        .json(&query)
        .send()
        .await?
        .status()
        .as_u16();
    let forged = raw
        .http
        .post(&url)
        .bearer_auth("forged")
        .json(&query)
        .send()
        .await?
        .status()
        .as_u16();
    assert_eq!((anonymous, forged), (401, 401));
    assert_eq!(
        raw.post("/v1/entities/search", query.to_string()).await?.0,
        200
    );
    raw.sim.expire_tokens();
    assert_eq!(
        raw.post("/v1/entities/search", query.to_string()).await?.0,
        401
    );
    let bad_login = raw
        .http
        .post(format!("{}/v1/auth/access_token", raw.sim.base_url()))
        .json(&json!({"clientId": CLIENT_ID, "clientSecret": "wrong"}))
        .send()
        .await?;
    assert_eq!(bad_login.status().as_u16(), 401);
    Ok(())
}

#[tokio::test]
async fn bad_bodies_get_port_errors_not_a_crash() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "/v1/blueprints/githubOrganization/entities/bulk",
            "{not json".to_owned(),
            400,
        ),
        (
            "/v1/blueprints/githubOrganization/entities/bulk",
            json!({"entities": "x"}).to_string(),
            422,
        ),
        (
            "/v1/blueprints/unknownBlueprint/entities/bulk",
            bulk_of(1),
            404,
        ),
        (
            "/v1/blueprints/githubOrganization/entities",
            json!([1, 2]).to_string(),
            422,
        ),
        (
            "/v1/blueprints/githubOrganization/entities",
            json!({"identifier": 7}).to_string(),
            422,
        ),
        (
            "/v1/blueprints/githubOrganization/entities",
            json!({"identifier": "a", "team": 3}).to_string(),
            422,
        ),
        (
            "/v1/blueprints/githubOrganization/bulk/entities/delete",
            json!({"entities": []}).to_string(),
            422,
        ),
        (
            "/v1/entities/search",
            json!({"combinator": "xor", "rules": []}).to_string(),
            422,
        ),
        (
            "/v1/entities/search",
            json!({"rules": [{"property": "$identifier", "operator": "~"}]}).to_string(),
            422,
        ),
        (
            "/v1/blueprints/githubOrganization/entities/search",
            json!({"limit": 5000}).to_string(),
            422,
        ),
        (
            "/v1/blueprints/entities/datasource-entities",
            json!({"from": 12}).to_string(),
            422,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = raw.post(path, body.clone()).await?;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert_eq!(answer["ok"], json!(false), "{path} {body}");
    }
    assert_eq!(raw.sim.count(Endpoint::BulkUpsert), 3);
    Ok(())
}

#[tokio::test]
async fn identifiers_follow_ports_pattern() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let long = "x".repeat(1001);
    let ids = [
        "ok-1",
        ".",
        "..",
        "a b",
        "ünï/côdé@x:y+z=w",
        long.as_str(),
        "tab\there",
        "fine.name",
    ];
    let entities: Vec<Value> = ids.iter().map(|id| json!({"identifier": id})).collect();
    let path = "/v1/blueprints/githubOrganization/entities/bulk?upsert=true";
    let (status, body) = raw
        .post(path, json!({ "entities": entities }).to_string())
        .await?;
    assert_eq!(status, 207);
    let failed: Vec<u64> = body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["index"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(failed, vec![1, 2, 3, 5, 6]);
    let stored: Vec<String> = raw
        .sim
        .catalog()
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    assert_eq!(
        stored,
        vec![
            "fine.name".to_owned(),
            "ok-1".to_owned(),
            "ünï/côdé@x:y+z=w".to_owned()
        ]
    );
    Ok(())
}

#[tokio::test]
async fn the_catalog_is_listed_over_http_for_the_demo() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    raw.sim.seed_entity(
        "githubOrganization",
        json!({"identifier": "octo", "title": "Octo"}),
        Some("someone"),
    )?;
    let listed: Value = raw
        .http
        .get(format!("{}/_sim/catalog", raw.sim.base_url()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        listed["entities"],
        json!([{"blueprint": "githubOrganization", "identifier": "octo", "title": "Octo", "icon": null, "team": null,
                "properties": {}, "relations": {}, "$datasource": "someone"}])
    );
    Ok(())
}

/// Port's OpenAPI description, with its bare `=` scalars read as strings.
fn openapi() -> anyhow::Result<Value> {
    let path = port_github_simulators::fixtures::fixtures_dir().join("port/openapi.yaml");
    let text = std::fs::read_to_string(&path)?;
    Ok(serde_norway::from_str(&text)?)
}

/// `/v1/blueprints/{bp}` and `/v1/blueprints/{identifier}` are the same route.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_simulators_routes_are_the_ones_of_ports_openapi() -> anyhow::Result<()> {
    let spec = openapi()?;
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    let in_spec = |method: &str, path: &str| {
        paths
            .iter()
            .any(|(p, ops)| shape(p) == shape(path) && ops.get(method.to_lowercase()).is_some())
    };
    for (method, path, listed) in port_github_simulators::port_sim::ROUTES {
        assert_eq!(
            in_spec(method, path),
            *listed,
            "{method} {path}: the simulator's table says in_spec = {listed}"
        );
    }
    // The fields the simulator requires to create a blueprint are the spec's.
    let required: Vec<&str> = spec
        .pointer(
            "/paths/~1v1~1blueprints/post/requestBody/content/application~1json/schema/required",
        )
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        required,
        port_github_simulators::port_sim::BLUEPRINT_REQUIRED_FIELDS
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_integration_and_its_sub_resources_answer_404() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let missing = "/v1/integration/nobody";
    let (status, body) = raw.send(reqwest::Method::GET, missing, "").await?;
    assert_eq!((status, body["error"].clone()), (404, json!("not_found")));
    let patched = raw
        .send(
            reqwest::Method::PATCH,
            missing,
            json!({"config": {}}).to_string(),
        )
        .await?;
    assert_eq!(patched.0, 404);
    let state = json!({"status": "running"}).to_string();
    let url = format!("{missing}/resync-state");
    assert_eq!(raw.send(reqwest::Method::PATCH, &url, state).await?.0, 404);
    let examples = json!({"examples": [{"a": 1}]}).to_string();
    let url = format!("{missing}/kinds/repository/examples");
    assert_eq!(raw.post(&url, examples).await?.0, 404);
    assert!(raw.sim.resync_states().is_empty() && raw.sim.examples().is_empty());
    Ok(())
}

#[tokio::test]
async fn integrations_are_created_once_and_patched_in_place() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let create = json!({"installationId": "mine", "installationAppType": "github-serverless",
        "version": "1", "config": {}});
    let (status, body) = raw.post("/v1/integration", create.to_string()).await?;
    assert_eq!(status, 201, "{body}");
    let (status, body) = raw.post("/v1/integration", create.to_string()).await?;
    assert_eq!((status, body["ok"].clone()), (409, json!(false)));
    let no_id = json!({"installationAppType": "x"}).to_string();
    assert_eq!(raw.post("/v1/integration", no_id).await?.0, 422);
    let config = json!({"config": {"resources": []}}).to_string();
    let (status, body) = raw
        .send(reqwest::Method::PATCH, "/v1/integration/mine", config)
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["integration"]["config"], json!({"resources": []}));
    assert_eq!(
        raw.sim
            .integration("mine")
            .map(|r| r["installationAppType"].clone()),
        Some(json!("github-serverless"))
    );
    let state = json!({"status": "running"}).to_string();
    let url = "/v1/integration/mine/resync-state";
    assert_eq!(raw.send(reqwest::Method::PATCH, url, state).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn blueprints_are_created_as_port_requires() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let service = |relations: Value| {
        json!({"identifier": "service", "title": "Service", "schema": {"properties": {
            "lang": {"type": "string"}}}, "relations": relations})
        .to_string()
    };
    // A relation to a blueprint that does not exist: 404, nothing created.
    let to_missing = service(json!({"owner": {"target": "nothing", "many": false}}));
    let (status, body) = raw.post("/v1/blueprints", to_missing).await?;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("not_found")),
        "{body}"
    );
    assert!(raw.sim.blueprint("service").is_none());
    // Required fields.
    let untitled = json!({"identifier": "service", "schema": {}}).to_string();
    assert_eq!(raw.post("/v1/blueprints", untitled).await?.0, 422);
    let bad_id = json!({"identifier": "a b", "title": "x", "schema": {}}).to_string();
    assert_eq!(raw.post("/v1/blueprints", bad_id).await?.0, 422);
    // Bare, then again (409), then its relations by PATCH.
    assert_eq!(raw.post("/v1/blueprints", service(json!({}))).await?.0, 201);
    let (status, body) = raw.post("/v1/blueprints", service(json!({}))).await?;
    assert_eq!((status, body["ok"].clone()), (409, json!(false)));
    let relations =
        json!({"relations": {"repo": {"target": "githubRepository", "many": false}}}).to_string();
    let (status, body) = raw
        .send(reqwest::Method::PATCH, "/v1/blueprints/service", relations)
        .await?;
    assert_eq!(status, 200, "{body}");
    let stored = raw.sim.blueprint("service").unwrap_or_default();
    assert_eq!(
        stored["relations"]["repo"]["target"],
        json!("githubRepository")
    );
    assert_eq!(
        stored["schema"]["properties"]["lang"]["type"],
        json!("string")
    );
    // Entities may now use the relation; a PATCH to a missing target or blueprint is refused.
    let entity = json!({"identifier": "s1", "relations": {"repo": null}}).to_string();
    assert_eq!(
        raw.post("/v1/blueprints/service/entities?upsert=true", entity)
            .await?
            .0,
        201
    );
    let bad = json!({"relations": {"x": {"target": "nothing"}}}).to_string();
    let path = "/v1/blueprints/service";
    assert_eq!(raw.send(reqwest::Method::PATCH, path, bad).await?.0, 404);
    let path = "/v1/blueprints/nothing";
    assert_eq!(raw.send(reqwest::Method::PATCH, path, "{}").await?.0, 404);
    let (status, body) = raw.send(reqwest::Method::GET, path, "").await?;
    assert_eq!((status, body["error"].clone()), (404, json!("not_found")));
    let (status, body) = raw
        .send(reqwest::Method::GET, "/v1/blueprints/service", "")
        .await?;
    assert_eq!(
        (status, body["blueprint"]["identifier"].clone()),
        (200, json!("service"))
    );
    Ok(())
}

#[tokio::test]
async fn the_resync_request_is_null_until_the_button_is_pressed() -> anyhow::Result<()> {
    let raw = Raw::start().await?;
    let path = "/v1/integration/mine/resync-request";
    let get = || raw.send(reqwest::Method::GET, path, "");
    // No integration: 404 with Port's error body, and no button to press.
    let (status, body) = get().await?;
    assert_eq!((status, body["error"].clone()), (404, json!("not_found")));
    assert!(raw.sim.press_resync("mine", None).is_err());
    raw.sim.set_integration_config("mine", json!({}));
    assert_eq!(get().await?, (200, json!({"ok": true, "request": null})));
    let at = chrono::DateTime::from_timestamp(1_796_205_600, 0).unwrap_or_default();
    raw.sim.press_resync("mine", Some(at))?;
    let (status, body) = get().await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["request"]["updatedAt"],
        json!("2026-12-02T10:00:00.000Z")
    );
    // Without a valid token, 401; a fault hook like the other routes.
    let anonymous = raw
        .http
        .get(format!("{}{path}", raw.sim.base_url()))
        .send()
        .await?
        .status()
        .as_u16();
    assert_eq!(anonymous, 401);
    raw.sim
        .fail_next(Some(Endpoint::ResyncRequest), Fault::Internal, 1);
    assert_eq!(get().await?.0, 500);
    assert_eq!(get().await?.0, 200);
    Ok(())
}
