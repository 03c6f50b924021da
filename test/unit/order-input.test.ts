import { approvalReasons, DEFAULT_APPROVAL, OrderToCashInputSchema, type DealSnapshot } from '../../contracts/orders';

const parse = (approval: unknown) => OrderToCashInputSchema.parse({ dealId: '42', approval }).approval;

test('a partial approval object is completed from the defaults', () => {
  expect(parse({ maxAmountMinor: 500_000 })).toEqual({ ...DEFAULT_APPROVAL, maxAmountMinor: 500_000 });
  expect(parse({ policy: { approvers: ['alice'] } })).toEqual({ ...DEFAULT_APPROVAL, policy: { ...DEFAULT_APPROVAL.policy, approvers: ['alice'] } });
  expect(parse({ newCustomer: false, policy: { timeout: '1 day', onTimeout: { action: 'reject' } } })).toEqual({
    ...DEFAULT_APPROVAL,
    newCustomer: false,
    policy: { approvers: ['sales-manager'], timeout: '1 day', onTimeout: { action: 'reject' } },
  });
  expect(parse({})).toEqual(DEFAULT_APPROVAL);
});

test('null switches a limit off, and the parsed limits parse again to themselves (the deal watcher passes them on)', () => {
  const limits = parse({ maxAmountMinor: null, maxDiscountPercent: 20 });
  expect(limits).toMatchObject({ maxAmountMinor: null, maxDiscountPercent: 20 });
  expect(parse(limits)).toEqual(limits);
  const deal: DealSnapshot = { dealId: '42', accountId: '7', name: 'd', stage: 'won', currency: 'EUR', amountMinor: 99_000_000, discountPercent: 0, lines: [] };
  expect(approvalReasons(deal, false, limits!)).toEqual([]);
  expect(approvalReasons(deal, false, parse({})!)).toEqual(['amount 990,000.00 EUR above limit 10,000.00 EUR']);
});

test('a wrong field in a partial approval is still refused, naming it', () => {
  const r = OrderToCashInputSchema.safeParse({ dealId: '42', approval: { policy: { approvers: [] } } });
  expect(r.success).toBe(false);
  expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(['approval.policy.approvers']);
});
