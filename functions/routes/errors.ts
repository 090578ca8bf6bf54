/**
 * The one JSON error shape every route answers with, and the valibot hook
 * that turns validation issues into it, naming each bad field.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as v from 'valibot';

/** One problem with one named input field. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Body of every error response. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; fields?: FieldProblem[] };
}

/** Answers with the standard JSON error body. */
export function jsonError(c: Context, status: ContentfulStatusCode, code: string, message: string, fields?: FieldProblem[]): Response {
  const body: ErrorBody = { error: { status, code, message, ...(fields ? { fields } : {}) } };
  return c.json(body, status);
}

/**
 * Names the field of each valibot issue: the parameter name for query and
 * path parameters, the dotted path for bodies. The value received is quoted
 * (shortened) so the client sees what was wrong.
 */
export function fieldProblems(issues: readonly v.BaseIssue<unknown>[], what = 'field'): FieldProblem[] {
  return issues.map((issue) => {
    const field = (what === 'parameter' ? String(issue.path?.[0]?.key ?? '') : v.getDotPath(issue)) || what;
    const unknownKey = issue.type === 'strict_object' && issue.expected === 'never';
    const received = issue.received.length > 80 ? `${issue.received.slice(0, 77)}...` : issue.received;
    const message = unknownKey ? `is not a known ${what}` : received === 'undefined' ? issue.message : `${issue.message} (got ${received})`;
    return { field, message };
  });
}

/** Answers 400 naming every invalid field. */
export function invalidInput(c: Context, issues: readonly v.BaseIssue<unknown>[], what = 'parameter'): Response {
  const fields = fieldProblems(issues, what);
  const message = fields.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
  return jsonError(c, 400, `invalid_${what}`, `Invalid ${what}: ${message}`, fields);
}

/** Hook for `vValidator`: a failed validation becomes a 400 naming the fields. */
export const validationHook =
  (what = 'parameter') =>
  (result: { success: boolean; issues?: readonly v.BaseIssue<unknown>[] }, c: Context): Response | undefined =>
    result.success ? undefined : invalidInput(c, result.issues ?? [], what);
