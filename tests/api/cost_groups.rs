//! Creating, changing and deleting cost groups through GraphQL, on every backend.

use serde_json::{Value, json};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const CREATE: &str = r#"mutation($input: CreateCostGroupInput!) {
    createCostGroup(input: $input) { id name code description parent { id } tenantId } }"#;
const UPDATE: &str = r#"mutation($id: ID!, $input: UpdateCostGroupInput!) {
    updateCostGroup(id: $id, input: $input) { id name code description parent { id } } }"#;
const DELETE: &str = r#"mutation($id: ID!, $to: ID) { deleteCostGroup(id: $id, reassignTo: $to) }"#;
const TREE: &str = r#"query($id: ID!) { tenant(id: $id) {
    costGroups { id name code description parent { id } children { id name } } } }"#;

/// The ids of the first two demo tenants.
fn tenants() -> (String, String) {
    let data = demo_data();
    (
        data[0].0.tenant.id.to_string(),
        data[1].0.tenant.id.to_string(),
    )
}

/// Creates a group and returns its id; the mutation must succeed.
async fn create(app: &TestApp, tenant: &str, name: &str, parent: Option<&str>) -> String {
    let input = json!({ "tenantId": tenant, "name": name, "parentId": parent });
    let data = app.data(CREATE, json!({ "input": input })).await;
    data["createCostGroup"]["id"].as_str().unwrap().to_owned()
}

/// Every cost group of `tenant`, as the API returns them.
async fn tree(app: &TestApp, tenant: &str) -> Vec<Value> {
    let data = app.data(TREE, json!({ "id": tenant })).await;
    let mut groups = data["tenant"]["costGroups"].as_array().unwrap().clone();
    groups.sort_by_key(|g| g["id"].as_str().unwrap().to_owned());
    groups
}

fn find<'a>(groups: &'a [Value], id: &str) -> &'a Value {
    groups.iter().find(|g| g["id"] == id).unwrap()
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_created_tree_reads_back() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let input = json!({ "tenantId": tenant, "name": "  Zeta Unit ", "code": " ZU-1 ",
            "description": "All of Zeta" });
        let root = app.data(CREATE, json!({ "input": input })).await["createCostGroup"].clone();
        assert_eq!(root["name"], "Zeta Unit");
        assert_eq!(root["code"], "ZU-1");
        assert_eq!(root["description"], "All of Zeta");
        assert_eq!(root["tenantId"], tenant.as_str());
        assert!(root["parent"].is_null());
        let root_id = root["id"].as_str().unwrap();
        let a = create(&app, &tenant, "Zeta A", Some(root_id)).await;
        let b = create(&app, &tenant, "Zeta B", Some(root_id)).await;
        let a1 = create(&app, &tenant, "Zeta A1", Some(&a)).await;

        let groups = tree(&app, &tenant).await;
        let names: Vec<&Value> = find(&groups, root_id)["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["name"])
            .collect();
        assert_eq!(names, [&json!("Zeta A"), &json!("Zeta B")]);
        assert_eq!(find(&groups, &a1)["parent"]["id"], a.as_str());
        assert_eq!(find(&groups, &b)["parent"]["id"], root_id);
    }
}

#[tokio::test]
async fn sibling_names_clash_ignoring_case_as_conflict() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let root = create(&app, &tenant, "Zeta", None).await;
        create(&app, &tenant, "Finance", Some(&root)).await;
        let before = tree(&app, &tenant).await;
        let input = json!({ "tenantId": tenant, "name": "FINANCE", "parentId": root });
        let body = app.post(CREATE, json!({ "input": input })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert!(message(&body).contains("FINANCE"), "{body:#}");
        assert_eq!(tree(&app, &tenant).await, before);
        // A cousin may share the name.
        let other = create(&app, &tenant, "Zeta Other", None).await;
        create(&app, &tenant, "finance", Some(&other)).await;
    }
}

#[tokio::test]
async fn codes_clash_across_the_tenant_but_not_across_tenants() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, other_tenant) = tenants();
        let input = json!({ "tenantId": tenant, "name": "Zeta", "code": "ZC-9" });
        app.data(CREATE, json!({ "input": input })).await;
        let input = json!({ "tenantId": tenant, "name": "Zeta Two", "code": "zc-9" });
        let body = app.post(CREATE, json!({ "input": input })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert!(message(&body).contains("code"), "{body:#}");
        let input = json!({ "tenantId": other_tenant, "name": "Zeta", "code": "ZC-9" });
        app.data(CREATE, json!({ "input": input })).await;
        // An update to a taken code is refused as well.
        let id = create(&app, &tenant, "Zeta Three", None).await;
        let body = app
            .post(UPDATE, json!({ "id": id, "input": { "code": "ZC-9" } }))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
    }
}

#[tokio::test]
async fn moving_a_group_under_its_own_descendant_is_conflict_and_changes_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let a = create(&app, &tenant, "Zeta A", None).await;
        let b = create(&app, &tenant, "Zeta B", Some(&a)).await;
        let c = create(&app, &tenant, "Zeta C", Some(&b)).await;
        let before = tree(&app, &tenant).await;
        for target in [&c, &a] {
            let input = json!({ "parentId": target, "name": "Zeta Renamed" });
            let body = app.post(UPDATE, json!({ "id": a, "input": input })).await;
            assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
            assert!(message(&body).contains("under itself"), "{body:#}");
        }
        assert_eq!(tree(&app, &tenant).await, before);
        // A legal move and a move back to the root work.
        let moved = app
            .data(UPDATE, json!({ "id": c, "input": { "parentId": a } }))
            .await;
        assert_eq!(moved["updateCostGroup"]["parent"]["id"], a.as_str());
        let moved = app
            .data(UPDATE, json!({ "id": c, "input": { "moveToRoot": true } }))
            .await;
        assert!(moved["updateCostGroup"]["parent"].is_null());
    }
}

#[tokio::test]
async fn a_ninth_level_is_refused() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let mut parent: Option<String> = None;
        for level in 1..=8 {
            parent =
                Some(create(&app, &tenant, &format!("Zeta L{level}"), parent.as_deref()).await);
        }
        let before = tree(&app, &tenant).await;
        let input = json!({ "tenantId": tenant, "name": "Zeta L9", "parentId": parent });
        let body = app.post(CREATE, json!({ "input": input })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert!(message(&body).contains("depth 9"), "{body:#}");
        // Moving a two-level subtree under level 7 would also reach depth 9.
        let top = create(&app, &tenant, "Zeta Sub", None).await;
        create(&app, &tenant, "Zeta Sub Child", Some(&top)).await;
        let level7 = before.iter().find(|g| g["name"] == "Zeta L7").unwrap()["id"].clone();
        let body = app
            .post(
                UPDATE,
                json!({ "id": top, "input": { "parentId": level7 } }),
            )
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert_eq!(tree(&app, &tenant).await.len(), before.len() + 2);
    }
}

#[tokio::test]
async fn deleting_a_group_with_children_is_conflict() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let a = create(&app, &tenant, "Zeta A", None).await;
        create(&app, &tenant, "Zeta B", Some(&a)).await;
        let before = tree(&app, &tenant).await;
        let body = app.post(DELETE, json!({ "id": a })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert!(message(&body).contains("child"), "{body:#}");
        assert_eq!(tree(&app, &tenant).await, before);
    }
}

#[tokio::test]
async fn deleting_with_reassign_to_moves_the_children() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let a = create(&app, &tenant, "Zeta A", None).await;
        let b = create(&app, &tenant, "Zeta B", Some(&a)).await;
        let c = create(&app, &tenant, "Zeta C", Some(&a)).await;
        let target = create(&app, &tenant, "Zeta Target", None).await;
        let leaf = create(&app, &tenant, "Zeta Leaf", None).await;

        let deleted = app.data(DELETE, json!({ "id": a, "to": target })).await;
        assert_eq!(deleted["deleteCostGroup"], a.as_str());
        let groups = tree(&app, &tenant).await;
        assert!(groups.iter().all(|g| g["id"] != a.as_str()));
        assert_eq!(find(&groups, &b)["parent"]["id"], target.as_str());
        assert_eq!(find(&groups, &c)["parent"]["id"], target.as_str());
        // A leaf needs no reassignment.
        let deleted = app.data(DELETE, json!({ "id": leaf })).await;
        assert_eq!(deleted["deleteCostGroup"], leaf.as_str());
        // Reassigning to a group of the children's own subtree would make a cycle.
        let d = create(&app, &tenant, "Zeta D", Some(&b)).await;
        let body = app.post(DELETE, json!({ "id": target, "to": d })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body:#}");
        assert_eq!(tree(&app, &tenant).await.len(), groups.len());
    }
}

#[tokio::test]
async fn validation_errors_are_bad_user_input_naming_the_field() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let before = tree(&app, &tenant).await;
        let cases = [
            (json!({ "tenantId": tenant, "name": "  " }), "name must be"),
            (
                json!({ "tenantId": tenant, "name": "x".repeat(101) }),
                "name must be",
            ),
            (
                json!({ "tenantId": tenant, "name": "Zeta", "code": "has space" }),
                "code must be",
            ),
            (
                json!({ "tenantId": tenant, "name": "Zeta", "description": "d".repeat(1001) }),
                "description must be",
            ),
            (
                json!({ "tenantId": "nope", "name": "Zeta" }),
                "input.tenantId",
            ),
            (
                json!({ "tenantId": tenant, "name": "Zeta", "parentId": "nope" }),
                "input.parentId",
            ),
        ];
        for (input, expected) in cases {
            let body = app.post(CREATE, json!({ "input": input })).await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
            assert!(message(&body).contains(expected), "{expected}: {body:#}");
        }
        let id = create(&app, &tenant, "Zeta", None).await;
        let body = app
            .post(UPDATE, json!({ "id": id, "input": { "name": "" } }))
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
        assert!(message(&body).starts_with("name must be"), "{body:#}");
        let input = json!({ "parentId": id, "moveToRoot": true });
        let body = app.post(UPDATE, json!({ "id": id, "input": input })).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
        assert_eq!(tree(&app, &tenant).await.len(), before.len() + 1);
    }
}

#[tokio::test]
async fn unknown_ids_and_parents_of_other_tenants_are_not_found() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, other_tenant) = tenants();
        let unknown = uuid::Uuid::new_v4().to_string();
        let foreign = create(&app, &other_tenant, "Zeta Foreign", None).await;
        let mine = create(&app, &tenant, "Zeta Mine", None).await;
        let before = tree(&app, &tenant).await;
        let bodies = [
            app.post(
                CREATE,
                json!({ "input": { "tenantId": unknown, "name": "Zeta" } }),
            )
            .await,
            app.post(
                CREATE,
                json!({ "input": { "tenantId": tenant, "name": "Zeta", "parentId": unknown } }),
            )
            .await,
            app.post(
                CREATE,
                json!({ "input": { "tenantId": tenant, "name": "Zeta", "parentId": foreign } }),
            )
            .await,
            app.post(
                UPDATE,
                json!({ "id": unknown, "input": { "name": "Zeta" } }),
            )
            .await,
            app.post(
                UPDATE,
                json!({ "id": mine, "input": { "parentId": foreign } }),
            )
            .await,
            app.post(DELETE, json!({ "id": unknown })).await,
            app.post(DELETE, json!({ "id": mine, "to": foreign })).await,
        ];
        for body in &bodies {
            assert_eq!(first_error_code(body), "NOT_FOUND", "{body:#}");
        }
        assert_eq!(tree(&app, &tenant).await, before);
    }
}

#[tokio::test]
async fn concurrent_creates_of_one_sibling_name_let_exactly_one_through() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, _) = tenants();
        let input = json!({ "input": { "tenantId": tenant, "name": "Zeta Race" } });
        let bodies =
            futures_util::future::join_all((0..4).map(|_| app.post(CREATE, input.clone()))).await;
        let created = bodies.iter().filter(|b| b.get("errors").is_none()).count();
        assert_eq!(created, 1, "{bodies:#?}");
        for body in bodies.iter().filter(|b| b.get("errors").is_some()) {
            assert_eq!(first_error_code(body), "CONFLICT", "{body:#}");
        }
    }
}
