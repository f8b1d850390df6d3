//! Environment templates: the variables and workflows an environment is born from.

use super::variables::{VariableSpec, VariableSpecInput};
use crate::error::ValidationErrors;
use crate::ids::{TemplateId, TenantId};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Longest template name, template version, workflow, phase or step name.
pub const MAX_LABEL_LEN: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Most workflows in a template, steps in a workflow, variables in a declaration list.
pub const MAX_ITEMS: usize = 100;
/// Longest a step may run: one day.
pub const MAX_TIMEOUT_SECONDS: u32 = 86_400;
/// A step's timeout when the template names none: one hour.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 3_600;

/// One step of a workflow: an executable of the operator's workflow directory.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    /// The phase it belongs to (Genesis groups steps by phase).
    pub phase: String,
    /// What people read.
    pub name: String,
    /// The executable's file name in the workflow directory; never a path.
    pub run: String,
    /// Longest it may run before it is killed and fails.
    pub timeout_seconds: u32,
}

/// A workflow: steps run in order.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSpec {
    /// Unique in its template.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Variables of this workflow only, besides the template's.
    pub variables: Vec<VariableSpec>,
    /// Run in this order.
    pub steps: Vec<StepSpec>,
}

/// A stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its id.
    pub id: TemplateId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// With `version`, unique in the organization.
    pub name: String,
    /// The template's own version label (`1.0`), chosen by its author.
    pub version: String,
    /// Free text.
    pub description: Option<String>,
    /// Variables every workflow of the template gets.
    pub variables: Vec<VariableSpec>,
    /// Its workflows.
    pub workflows: Vec<WorkflowSpec>,
    /// The workflow run when an environment is born from it.
    pub create_workflow: String,
    /// The workflow run to destroy such an environment.
    pub destroy_workflow: String,
    /// The row's revision, bumped by every change; served as the ETag.
    pub version_number: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Template {
    /// The workflow called `name`.
    pub fn workflow(&self, name: &str) -> Option<&WorkflowSpec> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// The variables a run of `workflow` takes: the template's, and the workflow's own (which
    /// win over a template variable of the same name).
    pub fn declared<'a>(&'a self, workflow: &'a WorkflowSpec) -> Vec<&'a VariableSpec> {
        let mut declared: Vec<&VariableSpec> = self
            .variables
            .iter()
            .filter(|v| !workflow.variables.iter().any(|w| w.name == v.name))
            .collect();
        declared.extend(workflow.variables.iter());
        declared
    }

    /// The template after being replaced by `new`, its revision bumped.
    pub fn replaced(&self, new: NewTemplate, now: DateTime<Utc>) -> Template {
        let mut next = new.into_template(self.id, self.tenant, self.created_at);
        next.version_number = self.version_number + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// A validated template to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTemplate {
    /// See [`Template::name`].
    pub name: String,
    /// See [`Template::version`].
    pub version: String,
    /// See [`Template::description`].
    pub description: Option<String>,
    /// See [`Template::variables`].
    pub variables: Vec<VariableSpec>,
    /// See [`Template::workflows`].
    pub workflows: Vec<WorkflowSpec>,
    /// See [`Template::create_workflow`].
    pub create_workflow: String,
    /// See [`Template::destroy_workflow`].
    pub destroy_workflow: String,
}

impl NewTemplate {
    /// The stored template this becomes.
    pub fn into_template(self, id: TemplateId, tenant: TenantId, now: DateTime<Utc>) -> Template {
        let now = crate::time::truncate(now);
        Template {
            id,
            tenant,
            name: self.name,
            version: self.version,
            description: self.description,
            variables: self.variables,
            workflows: self.workflows,
            create_workflow: self.create_workflow,
            destroy_workflow: self.destroy_workflow,
            version_number: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A step as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepInput {
    /// See [`StepSpec::phase`]; defaults to the workflow's name.
    pub phase: Option<String>,
    /// See [`StepSpec::name`].
    pub name: Option<String>,
    /// See [`StepSpec::run`].
    pub run: Option<String>,
    /// See [`StepSpec::timeout_seconds`].
    pub timeout_seconds: Option<i64>,
}

/// A workflow as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowInput {
    /// See [`WorkflowSpec::name`].
    pub name: Option<String>,
    /// See [`WorkflowSpec::description`].
    pub description: Option<String>,
    /// See [`WorkflowSpec::variables`].
    pub variables: Vec<VariableSpecInput>,
    /// See [`WorkflowSpec::steps`].
    pub steps: Vec<StepInput>,
}

/// A template as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateInput {
    /// See [`Template::name`].
    pub name: Option<String>,
    /// See [`Template::version`].
    pub version: Option<String>,
    /// See [`Template::description`].
    pub description: Option<String>,
    /// See [`Template::variables`].
    pub variables: Vec<VariableSpecInput>,
    /// See [`Template::workflows`].
    pub workflows: Vec<WorkflowInput>,
    /// Defaults to `create`.
    pub create_workflow: Option<String>,
    /// Defaults to `destroy`.
    pub destroy_workflow: Option<String>,
}

/// The executables a workflow step may name: the file names of the operator's workflow
/// directory, or nothing when none is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executables {
    /// No workflow directory is configured: templates with steps are refused.
    Unconfigured,
    /// The executable files of the workflow directory.
    In(BTreeSet<String>),
}

fn label(value: Option<String>, field: &str, errors: &mut ValidationErrors) -> Option<String> {
    match value.map(|v| v.trim().to_owned()) {
        None => errors.add(field, "is required"),
        Some(v) if v.is_empty() => errors.add(field, "must not be blank"),
        Some(v) if v.chars().count() > MAX_LABEL_LEN => {
            errors.add(field, "must be at most 100 characters")
        }
        Some(v) if v.chars().any(char::is_control) => {
            errors.add(field, "must not contain control characters")
        }
        Some(v) => return Some(v),
    }
    None
}

fn described(value: Option<String>, field: &str, errors: &mut ValidationErrors) -> Option<String> {
    if value
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        errors.add(field, "must be at most 2000 characters");
    }
    value
}

fn variables(
    inputs: Vec<VariableSpecInput>,
    at: &str,
    errors: &mut ValidationErrors,
) -> Vec<VariableSpec> {
    if inputs.len() > MAX_ITEMS {
        errors.add(at, "must list at most 100 variables");
    }
    let mut names = BTreeSet::new();
    let mut parsed = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let field = format!("{at}[{i}]");
        if let Some(spec) = input.parse(&field, errors) {
            if !names.insert(spec.name.clone()) {
                errors.add(format!("{field}.name"), "is declared twice");
            }
            parsed.push(spec);
        }
    }
    parsed
}

/// Checks a step's `run`: a bare file name of the workflow directory.
fn executable(
    run: Option<String>,
    field: &str,
    available: &Executables,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let Some(run) = run else {
        errors.add(
            field,
            "is required: the name of an executable in the workflow directory",
        );
        return None;
    };
    if run.is_empty()
        || run.contains('/')
        || run.contains('\\')
        || run.contains("..")
        || run.contains('\0')
    {
        errors.add(field, "must be the bare file name of an executable in the workflow directory, with no `/` and no `..`");
        return None;
    }
    match available {
        Executables::In(names) if names.contains(&run) => Some(run),
        Executables::In(_) => {
            errors.add(
                field,
                format!("names no executable in the workflow directory: `{run}`"),
            );
            None
        }
        // Reported once for the whole template.
        Executables::Unconfigured => None,
    }
}

impl TemplateInput {
    /// Validates a template, every bad field named at once. A step's `run` must name one of
    /// `available`.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field (`workflows[i].steps[j].run`, ...).
    pub fn into_new(self, available: &Executables) -> Result<NewTemplate, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = label(self.name, "name", &mut errors);
        let version = label(self.version, "version", &mut errors);
        let description = described(self.description, "description", &mut errors);
        let template_variables = variables(self.variables, "variables", &mut errors);
        if self.workflows.len() > MAX_ITEMS {
            errors.add("workflows", "must list at most 100 workflows");
        }
        let has_steps = self.workflows.iter().any(|w| !w.steps.is_empty());
        if has_steps && *available == Executables::Unconfigured {
            errors.add(
                "workflows",
                "this server has no workflow directory configured (--workflow-dir or TERRANE_WORKFLOW_DIR), so templates with steps cannot be run; ask its operator to set one",
            );
        }
        let mut workflows: Vec<WorkflowSpec> = Vec::new();
        for (i, input) in self.workflows.into_iter().enumerate() {
            let at = format!("workflows[{i}]");
            let name = label(input.name, &format!("{at}.name"), &mut errors);
            if let Some(name) = &name {
                if workflows.iter().any(|w| &w.name == name) {
                    errors.add(
                        format!("{at}.name"),
                        "is used by another workflow of the template",
                    );
                }
            }
            let description =
                described(input.description, &format!("{at}.description"), &mut errors);
            let vars = variables(input.variables, &format!("{at}.variables"), &mut errors);
            if input.steps.len() > MAX_ITEMS {
                errors.add(format!("{at}.steps"), "must list at most 100 steps");
            }
            let mut steps = Vec::new();
            for (j, step) in input.steps.into_iter().enumerate() {
                let at = format!("{at}.steps[{j}]");
                let phase = match step.phase {
                    Some(phase) => label(Some(phase), &format!("{at}.phase"), &mut errors),
                    None => name.clone(),
                };
                let step_name = label(step.name, &format!("{at}.name"), &mut errors);
                let run = executable(step.run, &format!("{at}.run"), available, &mut errors);
                let timeout = match step.timeout_seconds {
                    None => Some(DEFAULT_TIMEOUT_SECONDS),
                    Some(t) if (1..=i64::from(MAX_TIMEOUT_SECONDS)).contains(&t) => Some(t as u32),
                    Some(_) => {
                        errors.add(
                            format!("{at}.timeoutSeconds"),
                            "must be between 1 and 86400",
                        );
                        None
                    }
                };
                if let (Some(phase), Some(name), Some(run), Some(timeout_seconds)) =
                    (phase, step_name, run, timeout)
                {
                    steps.push(StepSpec {
                        phase,
                        name,
                        run,
                        timeout_seconds,
                    });
                }
            }
            if let Some(name) = name {
                workflows.push(WorkflowSpec {
                    name,
                    description,
                    variables: vars,
                    steps,
                });
            }
        }
        let create_workflow = self.create_workflow.unwrap_or_else(|| "create".into());
        let destroy_workflow = self.destroy_workflow.unwrap_or_else(|| "destroy".into());
        for (field, wanted) in [
            ("createWorkflow", &create_workflow),
            ("destroyWorkflow", &destroy_workflow),
        ] {
            if !workflows.iter().any(|w| &w.name == wanted) {
                errors.add(
                    field,
                    format!(
                        "must name a workflow of the template; there is no workflow `{wanted}`"
                    ),
                );
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewTemplate {
            name: name.expect("no errors"),
            version: version.expect("no errors"),
            description,
            variables: template_variables,
            workflows,
            create_workflow,
            destroy_workflow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(run: &str) -> StepInput {
        StepInput {
            name: Some("step".into()),
            run: Some(run.into()),
            ..Default::default()
        }
    }

    fn input(create_steps: Vec<StepInput>) -> TemplateInput {
        TemplateInput {
            name: Some("web".into()),
            version: Some("1.0".into()),
            workflows: vec![
                WorkflowInput {
                    name: Some("create".into()),
                    steps: create_steps,
                    ..Default::default()
                },
                WorkflowInput {
                    name: Some("destroy".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn available(names: &[&str]) -> Executables {
        Executables::In(names.iter().map(|n| (*n).to_owned()).collect())
    }

    #[test]
    fn a_step_names_an_executable_of_the_workflow_directory_and_never_a_path() {
        let ok = input(vec![step("provision.sh")])
            .into_new(&available(&["provision.sh"]))
            .unwrap();
        assert_eq!(ok.workflows[0].steps[0].run, "provision.sh");
        assert_eq!(
            ok.workflows[0].steps[0].phase, "create",
            "the phase defaults to the workflow"
        );
        assert_eq!(
            ok.workflows[0].steps[0].timeout_seconds,
            DEFAULT_TIMEOUT_SECONDS
        );
        for bad in ["/bin/sh", "../x", "a/b", "..", "", "missing.sh"] {
            let errors = input(vec![step("ok.sh"), step(bad)])
                .into_new(&available(&["ok.sh"]))
                .unwrap_err();
            let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["workflows[0].steps[1].run"], "{bad}");
        }
    }

    #[test]
    fn without_a_workflow_directory_templates_with_steps_are_refused_and_others_accepted() {
        let errors = input(vec![step("x")])
            .into_new(&Executables::Unconfigured)
            .unwrap_err();
        assert_eq!(errors.errors()[0].field, "workflows");
        assert!(errors.errors()[0].message.contains("workflow directory"));
        assert!(input(Vec::new())
            .into_new(&Executables::Unconfigured)
            .is_ok());
    }

    #[test]
    fn create_and_destroy_workflows_must_exist() {
        let mut template = input(Vec::new());
        template.workflows.pop();
        template.create_workflow = Some("up".into());
        let errors = template.into_new(&Executables::Unconfigured).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["createWorkflow", "destroyWorkflow"]);
    }

    #[test]
    fn name_version_and_timeouts_are_checked_together() {
        let mut template = input(vec![StepInput {
            timeout_seconds: Some(0),
            ..step("x")
        }]);
        template.name = None;
        template.version = Some(" ".into());
        let errors = template.into_new(&available(&["x"])).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "version", "workflows[0].steps[0].timeoutSeconds"]
        );
    }

    #[test]
    fn a_workflow_variable_wins_over_a_template_variable_of_the_same_name() {
        let mut template = input(Vec::new());
        template.variables = vec![
            VariableSpecInput {
                name: Some("size".into()),
                default: Some("s".into()),
                ..Default::default()
            },
            VariableSpecInput {
                name: Some("region".into()),
                ..Default::default()
            },
        ];
        template.workflows[0].variables = vec![VariableSpecInput {
            name: Some("size".into()),
            default: Some("xl".into()),
            ..Default::default()
        }];
        let stored = template
            .into_new(&Executables::Unconfigured)
            .unwrap()
            .into_template(
                TemplateId(uuid::Uuid::nil()),
                TenantId(uuid::Uuid::nil()),
                Utc::now(),
            );
        let create = stored.workflow("create").unwrap();
        let declared: Vec<_> = stored
            .declared(create)
            .iter()
            .map(|v| (v.name.as_str(), v.default.as_deref()))
            .collect();
        assert_eq!(declared, [("region", None), ("size", Some("xl"))]);
    }
}
