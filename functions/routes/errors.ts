/**
 * The one JSON error shape every route answers with, and the valibot hook
 * that turns validation issues into it, naming each bad field.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as v from 'valibot';

const FieldProblemSchema = v.strictObject({ field: v.string(), message: v.string() });

/** One problem with one named input field. */
export type FieldProblem = v.InferOutput<typeof FieldProblemSchema>;

/** Body of every error response (and its schema in the OpenAPI description). */
export const ErrorBodySchema = v.strictObject({
  error: v.strictObject({
    status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
    code: v.string(),
    message: v.string(),
    fields: v.optional(v.array(FieldProblemSchema)),
  }),
});

/** Body of every error response. */
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

/** Answers with the standard JSON error body. */
export function jsonError(c: Context, status: ContentfulStatusCode, code: string, message: string, fields?: FieldProblem[]): Response {
  const body: ErrorBody = { error: { status, code, message, ...(fields ? { fields } : {}) } };
  return c.json(body, status);
}

/**
 * Names the field of each valibot issue: the parameter name for query and
 * path parameters, the dotted path for bodies. The message is a sentence
 * about that field, with what was received where it helps: a text value
 * quoted (shortened), its length when the length was wrong, a number as it
 * is, the size of a list; never a type name such as "Object".
 */
export function fieldProblems(issues: readonly v.BaseIssue<unknown>[], what = 'field'): FieldProblem[] {
  return issues.map((issue) => {
    const field = (what === 'parameter' ? String(issue.path?.[0]?.key ?? '') : v.getDotPath(issue)) || what;
    const unknownKey = issue.type === 'strict_object' && issue.expected === 'never';
    const got = unknownKey ? null : receivedValue(issue);
    return { field, message: unknownKey ? `is not a known ${what}` : got === null ? issue.message : `${issue.message} (got ${got})` };
  });
}

/** Issues about a length: what they received is a length, not a value. */
const LENGTH_ISSUES = new Set(['min_length', 'max_length', 'length', 'non_empty']);

/** What an issue received, in words; null when saying it would not help (nothing, an empty text, an object). */
function receivedValue(issue: v.BaseIssue<unknown>): string | null {
  const { input } = issue;
  if (typeof input === 'string') {
    if (input === '') return null;
    if (LENGTH_ISSUES.has(issue.type)) return `${input.length} characters`;
    return JSON.stringify(input.length > 80 ? `${input.slice(0, 77)}...` : input);
  }
  if (Array.isArray(input)) return LENGTH_ISSUES.has(issue.type) ? String(input.length) : null;
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  return null;
}

/** The 400 error for invalid input: its code, a message naming every invalid field, and the fields. */
export function invalidInputError(issues: readonly v.BaseIssue<unknown>[], what = 'parameter'): { code: string; message: string; fields: FieldProblem[] } {
  const fields = fieldProblems(issues, what);
  return { code: `invalid_${what}`, message: `Invalid ${what}: ${fields.map((problem) => `${problem.field} ${problem.message}`).join('; ')}`, fields };
}

/** Answers 400 naming every invalid field. */
export function invalidInput(c: Context, issues: readonly v.BaseIssue<unknown>[], what = 'parameter'): Response {
  const { code, message, fields } = invalidInputError(issues, what);
  return jsonError(c, 400, code, message, fields);
}

/** Hook for `vValidator`: a failed validation becomes a 400 naming the fields. */
export const validationHook =
  (what = 'parameter') =>
  (result: { success: boolean; issues?: readonly v.BaseIssue<unknown>[] }, c: Context): Response | undefined =>
    result.success ? undefined : invalidInput(c, result.issues ?? [], what);
