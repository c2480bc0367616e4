//! The Port simulator itself, over raw HTTP: it must refuse what Port refuses, with Port's error
//! body, and never fall over on a bad request.

use port_github_tests::port_sim::harness::blueprints_fixture;
use port_github_tests::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, PortSim};
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
        let response = self
            .http
            .post(format!("{}{path}", self.sim.base_url()))
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
