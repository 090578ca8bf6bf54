/** `dateLabel`: a record's date as feed titles and pages show it, at its precision. */
import { describe, expect, it } from 'vitest';
import { dateLabel } from '../functions/domain/dates.ts';

describe('dateLabel', () => {
  it.each([
    [{ date: '2023-12-25', date_precision: 'day' }, '25 Dec 2023'],
    [{ date: '2024-01-01', date_precision: 'month' }, 'Jan 2024'],
    [{ date: '2019-12-29', date_precision: 'approximate', date_window: { start: '2019-12-27', end: '2020-01-05' } }, '27 Dec 2019 – 5 Jan 2020'],
    [{ date: '2023-09-29', date_precision: 'approximate', date_window: { start: '2023-09-27', end: '2023-10-04' } }, '27 Sep – 4 Oct 2023'],
    [{ date: '2023-10-02', date_precision: 'approximate', date_window: { start: '2023-10-01', end: '2023-10-04' } }, '1–4 Oct 2023'],
    [{ date: '2023-10-02', date_precision: 'approximate', date_window: { start: '2023-10-02', end: '2023-10-02' } }, 'c. 2 Oct 2023'],
    [{ date: '2023-10-02', date_precision: 'approximate' }, 'c. 2 Oct 2023'],
  ] as const)('%j is "%s"', (record, label) => {
    expect(dateLabel(record)).toBe(label);
  });
});
