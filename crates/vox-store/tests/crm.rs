//! Seed 003's CRM storage on SQLite and (with `VOX_TEST_POSTGRES_URL`) PostgreSQL: API keys,
//! custom-field definitions and options with their unique keys, contacts with addresses and
//! values, the search's operators (case-insensitive on both backends), and a definition in
//! use kept until forced.

mod support;

use support::stores;
use vox_store::{
    ChannelType, ContactField, ContactFields, ContactQuery, EntityType, FieldChange,
    FieldDefinition, FieldOption, FieldType, Filter, FilterValue, Op, Order, StoreError,
    StoredValue, Window,
};

fn def(business: &str, key: &str, ty: FieldType) -> FieldDefinition {
    FieldDefinition {
        id: 0,
        business_id: business.into(),
        entity_type: EntityType::Contact,
        field_key: key.into(),
        field_label: None,
        field_type: ty,
        description: None,
        created_at: 0,
        updated_at: 0,
    }
}

fn text(s: &str) -> StoredValue {
    StoredValue {
        json: serde_json::json!(s),
        text: s.into(),
        num: None,
    }
}

fn query(business: &str, filters: Vec<Filter>) -> ContactQuery {
    ContactQuery {
        business_id: business.into(),
        filters,
        search: None,
        sort: vec![Order {
            column: "first_name",
            ascending: true,
        }],
        window: Window {
            offset: 0,
            limit: 50,
        },
    }
}

fn filter(field: ContactField, op: Op, value: FilterValue) -> Filter {
    Filter {
        field,
        op,
        value,
        or: false,
    }
}

#[tokio::test]
async fn contacts_custom_fields_and_keys() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz")
            .id;
        let other = store
            .create_business(&org.id, "Other", None)
            .await
            .expect("biz")
            .id;
        // API keys: found by the key, bound to the business
        let k = store
            .create_api_key(&biz, "ci", &["contacts:read".to_owned()])
            .await
            .expect("key");
        let grant = store.api_key(&k.key).await.expect("get").expect("a key");
        assert_eq!(
            (grant.business_id.as_str(), grant.organization_id.as_str()),
            (biz.as_str(), org.id.as_str())
        );
        assert_eq!(store.api_key("vk_wrong").await.expect("get"), None);
        assert_eq!(
            store.business_ids(&org.id).await.expect("ids"),
            [biz.clone(), other.clone()]
        );

        // definitions: a key unique per business and entity type
        let tier = store
            .create_field_definition(def(&biz, "tier", FieldType::List))
            .await
            .expect("tier");
        let budget = store
            .create_field_definition(def(&biz, "budget", FieldType::Number))
            .await
            .expect("budget");
        assert!(budget.id > tier.id, "{which:?}: integer ids in order");
        assert!(matches!(
            store
                .create_field_definition(def(&biz, "tier", FieldType::String))
                .await,
            Err(StoreError::Conflict(_))
        ));
        store
            .create_field_definition(def(&other, "tier", FieldType::String))
            .await
            .expect("another business's tier");
        let option = |v: &str| FieldOption {
            id: 0,
            definition_id: tier.id,
            value: v.into(),
            label: None,
            description: None,
            created_at: 0,
            updated_at: 0,
        };
        let gold = store
            .create_field_option(option("gold"))
            .await
            .expect("gold");
        store
            .create_field_option(option("silver"))
            .await
            .expect("silver");
        assert!(matches!(
            store.create_field_option(option("gold")).await,
            Err(StoreError::Conflict(_))
        ));
        let (opts, total) = store
            .field_options(
                tier.id,
                Some("GOL"),
                Order {
                    column: "value",
                    ascending: true,
                },
                Window {
                    offset: 0,
                    limit: 10,
                },
            )
            .await
            .expect("options");
        assert_eq!((opts.len(), total, opts[0].value.as_str()), (1, 1, "gold"));

        // contacts with addresses and values
        let fields = |first: &str| ContactFields {
            first_name: Some(first.into()),
            ..ContactFields::default()
        };
        let jane = store
            .create_contact(
                &biz,
                &fields("Jane"),
                None,
                &[
                    (ChannelType::Whatsapp, "+56912345678".into()),
                    (ChannelType::Email, "Jane@Example.com".into()),
                ],
                &[
                    FieldChange {
                        definition_id: tier.id,
                        value: Some(text("gold")),
                    },
                    FieldChange {
                        definition_id: budget.id,
                        value: Some(StoredValue {
                            json: serde_json::json!(500),
                            text: "500".into(),
                            num: Some(500.0),
                        }),
                    },
                ],
            )
            .await
            .expect("jane");
        assert_eq!(jane.addresses.len(), 2);
        assert_eq!(jane.custom_fields["tier"], "gold");
        assert_eq!(jane.custom_fields["budget"], 500);
        let john = store
            .create_contact(
                &biz,
                &fields("John"),
                None,
                &[(ChannelType::Phone, "+56987654321".into())],
                &[],
            )
            .await
            .expect("john");
        assert!(john.id > jane.id);
        store
            .create_contact(&other, &fields("Zed"), None, &[], &[])
            .await
            .expect("another business's");

        let names = |found: &[vox_store::Contact]| -> Vec<String> {
            found
                .iter()
                .filter_map(|c| c.fields.first_name.clone())
                .collect()
        };
        let (all, total) = store
            .search_contacts(&query(&biz, vec![]))
            .await
            .expect("all");
        assert_eq!(
            (names(&all), total),
            (vec!["Jane".to_owned(), "John".to_owned()], 2),
            "{which:?}"
        );
        for (f, want) in [
            (
                filter(
                    ContactField::Address,
                    Op::Contains,
                    FilterValue::Text("example.COM".into()),
                ),
                vec!["Jane"],
            ),
            (
                filter(
                    ContactField::Text("first_name"),
                    Op::Eq,
                    FilterValue::Text("JOHN".into()),
                ),
                vec!["John"],
            ),
            (
                filter(
                    ContactField::Custom("budget".into()),
                    Op::Gte,
                    FilterValue::Number(100.0),
                ),
                vec!["Jane"],
            ),
            (
                filter(
                    ContactField::Custom("tier".into()),
                    Op::Neq,
                    FilterValue::Text("gold".into()),
                ),
                vec!["John"],
            ),
            (
                filter(
                    ContactField::AddressChannel,
                    Op::Eq,
                    FilterValue::Text("phone".into()),
                ),
                vec!["John"],
            ),
            (
                filter(
                    ContactField::Text("first_name"),
                    Op::Contains,
                    FilterValue::Text("%".into()),
                ),
                vec![],
            ),
        ] {
            let (found, _) = store
                .search_contacts(&query(&biz, vec![f.clone()]))
                .await
                .expect("search");
            assert_eq!(names(&found), want, "{which:?}: {f:?}");
        }
        let mut q = query(&biz, vec![]);
        q.search = Some("98765".into());
        assert_eq!(
            names(&store.search_contacts(&q).await.expect("text").0),
            ["John"]
        );
        assert_eq!(
            names(&store.contacts_at(&biz, "+56912345678").await.expect("at")),
            ["Jane"]
        );

        // a definition in use: kept unless forced; forcing takes its values
        assert!(matches!(
            store.delete_field_definition(&biz, budget.id, false).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .delete_field_definition(&biz, budget.id, true)
            .await
            .expect("forced")
            .expect("was there");
        let jane_now = store
            .contact(&biz, jane.id)
            .await
            .expect("get")
            .expect("jane");
        assert!(!jane_now.custom_fields.contains_key("budget"), "{which:?}");
        // an option renamed carries its values; deleted, it clears them
        let mut platinum = gold.clone();
        platinum.value = "platinum".into();
        store
            .update_field_option(platinum, "gold")
            .await
            .expect("rename");
        let jane_now = store
            .contact(&biz, jane.id)
            .await
            .expect("get")
            .expect("jane");
        assert_eq!(jane_now.custom_fields["tier"], "platinum");
        store
            .delete_field_option(tier.id, gold.id)
            .await
            .expect("delete")
            .expect("was there");
        let jane_now = store
            .contact(&biz, jane.id)
            .await
            .expect("get")
            .expect("jane");
        assert!(jane_now.custom_fields.is_empty(), "{which:?}");
        // another business does not see or delete it
        assert_eq!(store.contact(&other, jane.id).await.expect("get"), None);
        assert_eq!(
            store.delete_contact(&other, jane.id).await.expect("del"),
            None
        );
        let gone = store.delete_contact(&biz, jane.id).await.expect("del");
        assert_eq!(gone.map(|c| c.id), Some(jane.id));
        assert_eq!(
            store.contacts_at(&biz, "+56912345678").await.expect("at"),
            []
        );
    }
}

#[tokio::test]
async fn tasks_are_searched_by_status_due_date_and_assignee() {
    use vox_store::{PartyType, Task, TaskQuery, TaskStatus};
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz")
            .id;
        let now = vox_store::now_ms();
        let task = |objective: &str, due: Option<i64>, ai: bool| Task {
            id: String::new(),
            business_id: biz.clone(),
            conversation_id: Some(7),
            objective: objective.into(),
            created_by: (PartyType::User, "u1".into()),
            assigned_to: if ai {
                (PartyType::AiEmployee, "agent_1".into())
            } else {
                (PartyType::User, "u1".into())
            },
            status: TaskStatus::Scheduled,
            due_date: due,
            published_at: None,
            completed_at: None,
            cancelled_at: None,
            cancellation_reason: None,
            call_id: None,
            outcome: None,
            created_at: 0,
            updated_at: 0,
        };
        let late = store
            .create_task(task("late", Some(now - 60_000), false))
            .await
            .expect("late");
        store
            .create_task(task("soon", Some(now + 60_000), true))
            .await
            .expect("soon");
        store
            .create_task(task("undated", None, false))
            .await
            .expect("undated");
        let window = Window {
            offset: 0,
            limit: 10,
        };
        let find = |status: Option<TaskStatus>, ai: bool| TaskQuery {
            business_id: biz.clone(),
            status,
            assigned_to_type: ai.then_some(PartyType::AiEmployee),
            now,
            ..TaskQuery::default()
        };
        let objectives = |found: (Vec<Task>, i64)| -> Vec<String> {
            found.0.into_iter().map(|t| t.objective).collect()
        };
        for (q, want) in [
            (find(None, false), vec!["late", "soon", "undated"]),
            (find(Some(TaskStatus::Overdue), false), vec!["late"]),
            (
                find(Some(TaskStatus::Scheduled), false),
                vec!["soon", "undated"],
            ),
            (find(None, true), vec!["soon"]),
        ] {
            let got = objectives(store.search_tasks(&q, window).await.expect("search"));
            assert_eq!(got, want, "{which:?}: {:?}", q.status);
        }
        assert_eq!(late.status_at(now), TaskStatus::Overdue);
        let mut done = late.clone();
        done.status = TaskStatus::Completed;
        done.completed_at = Some(now);
        store.update_task(done).await.expect("update");
        let got = objectives(
            store
                .search_tasks(&find(Some(TaskStatus::Completed), false), window)
                .await
                .expect("search"),
        );
        assert_eq!(got, ["late"], "{which:?}");
        // the AI employee's due task is claimed once; a stale claim is taken again
        let due = store.due_ai_tasks(now + 120_000).await.expect("due");
        assert_eq!(
            due.iter().map(|t| t.objective.as_str()).collect::<Vec<_>>(),
            ["soon"],
            "{which:?}"
        );
        assert!(store.claim_task(&due[0].id, 0).await.expect("claim"));
        assert!(
            !store.claim_task(&due[0].id, 0).await.expect("claim"),
            "once"
        );
        assert!(
            store
                .due_ai_tasks(now + 120_000)
                .await
                .expect("due")
                .is_empty()
        );
        assert!(
            store
                .claim_task(&due[0].id, now + 60_000)
                .await
                .expect("stale"),
            "{which:?}"
        );
        let mut placed = store
            .task(&biz, &due[0].id)
            .await
            .expect("get")
            .expect("task");
        placed.call_id = Some("call_1".into());
        store.update_task(placed).await.expect("placed");
        assert_eq!(store.tasks_in_calls().await.expect("in calls").len(), 1);
        assert_eq!(
            store
                .delete_task(&biz, &late.id)
                .await
                .expect("delete")
                .map(|t| t.id),
            Some(late.id.clone())
        );
        assert_eq!(store.task(&biz, &late.id).await.expect("get"), None);
    }
}

#[tokio::test]
async fn conversations_belong_to_a_contact_and_go_with_it() {
    use vox_store::Conversation;
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz")
            .id;
        let pedro = store
            .create_contact(
                &biz,
                &ContactFields::default(),
                None,
                &[(ChannelType::Phone, "+56912345678".into())],
                &[],
            )
            .await
            .expect("contact");
        let stage = store
            .create_field_definition(FieldDefinition {
                entity_type: EntityType::FunnelConversation,
                ..def(&biz, "stage", FieldType::String)
            })
            .await
            .expect("def");
        let c = store
            .create_conversation(
                Conversation {
                    id: 0,
                    business_id: biz.clone(),
                    contact_id: pedro.id,
                    user_id: Some(3),
                    funnel_id: 9,
                    funnel_status_id: None,
                    archived_at: None,
                    created_at: 0,
                    updated_at: 0,
                    sessions: Vec::new(),
                    custom_fields: Default::default(),
                },
                &[FieldChange {
                    definition_id: stage.id,
                    value: Some(text("new")),
                }],
            )
            .await
            .expect("conversation");
        assert_eq!(c.custom_fields["stage"], "new", "{which:?}");
        assert_eq!(
            store
                .open_conversation(&biz, pedro.id, 9)
                .await
                .expect("open"),
            Some(c.id)
        );
        let mut archived = c.clone();
        archived.archived_at = Some(1);
        store
            .update_conversation(&archived, &[])
            .await
            .expect("archive");
        assert_eq!(
            store
                .open_conversation(&biz, pedro.id, 9)
                .await
                .expect("open"),
            None
        );
        store
            .delete_contact(&biz, pedro.id)
            .await
            .expect("delete")
            .expect("was there");
        assert_eq!(
            store.conversation(&biz, c.id).await.expect("get"),
            None,
            "{which:?}"
        );
    }
}
