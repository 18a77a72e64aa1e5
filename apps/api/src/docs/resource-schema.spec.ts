import { MESSAGE } from '../messages/message.resource';
import { ORDER } from '../orders/order.resource';
import type { BaseState, Resource } from '../resources/resource';
import { viewJsonSchema } from './resource-schema';

function setup() {
  const at = new Date('2026-11-28T12:00:00.000Z');
  const rowOf = (r: Resource<BaseState>) =>
    Object.fromEntries(r.columns.map((c) => [c.column, c.codec === 'date' ? at : null]));
  return { rowOf };
}

describe('the view schema in the OpenAPI document', () => {
  it.each([
    ['order', ORDER as unknown as Resource<BaseState>],
    ['message', MESSAGE as unknown as Resource<BaseState>],
  ])('%s: names exactly the fields the view shows, all required, dates as date-time', (_n, r) => {
    const { rowOf } = setup();
    const shown = Object.keys(r.view(r.fromRow(rowOf(r))));
    const schema = viewJsonSchema(r);
    expect(Object.keys(schema.properties ?? {})).toEqual(shown);
    expect(schema.required).toEqual(shown);
    expect(schema.properties?.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(schema).not.toHaveProperty('additionalProperties');
  });

  it("keeps the state's examples and descriptions, and nullable fields as type arrays", () => {
    const { properties } = viewJsonSchema(ORDER);
    expect(properties?.totalMinor).toEqual({
      type: 'number',
      example: 3900,
      description: 'Sum of quantity × unitPriceMinor',
    });
    expect(properties?.notes).toEqual({ type: ['string', 'null'] });
    expect(properties?.status).toMatchObject({
      enum: ['pending', 'paid', 'shipped', 'delivered', 'cancelled'],
    });
  });
});
