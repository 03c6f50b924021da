import { fieldFromMessage, translateHttpStatus, translateNetworkError, translateRpcError } from '../../connectors/tryton/errors';

const plain = (e: { type: string; message: string; field?: string }) => ({ type: e.type, message: e.message, field: e.field });

describe('Tryton error translation', () => {
  test('UserError on a required field is a ValidationError naming the field', () => {
    const e = translateRpcError('model.product.template.create', ['UserError', ['A value is required for field "Name" in "Product Template".', '', null]]);
    expect(plain(e)).toEqual({ type: 'ValidationError', message: 'A value is required for field "Name" in "Product Template".', field: 'Name' });
    expect(e.details).toMatchObject({ model: 'Product Template', remote: 'UserError' });
    expect(e.retryable).toBe(false);
  });

  test('access, missing record and uniqueness UserErrors get their own types', () => {
    expect(translateRpcError('m', ['UserError', ['You are not allowed to access "Sale".', '', null]]).type).toBe('AuthError');
    expect(translateRpcError('m', ['UserError', ['You are trying to read records "9" of "Party" that don\'t exist anymore.', '', null]]).type).toBe('NotFound');
    expect(plain(translateRpcError('m', ['UserError', ['The code on party must be unique.', '', null]]))).toEqual({
      type: 'Conflict', message: 'The code on party must be unique.', field: 'code',
    });
  });

  test('concurrency, warnings, KeyErrors and unknown errors', () => {
    expect(plain(translateRpcError('m', ['ConcurrencyException', 'Records were modified in the meanwhile']))).toEqual({
      type: 'Conflict', message: 'Records were modified in the meanwhile', field: undefined,
    });
    expect(translateRpcError('m', ['UserWarning', ['w1', 'Are you sure?', '']]).type).toBe('ValidationError');
    expect(plain(translateRpcError('model.party.party.read', ["'no_such_field'", '']))).toEqual({
      type: 'ConfigError', message: "Tryton does not know 'no_such_field' (unknown model, field or method) in model.party.party.read", field: undefined,
    });
    expect(translateRpcError('m', ['Missing context argument', '']).type).toBe('ConfigError');
    expect(translateRpcError('m', ["Database '/srv/db/x.sqlite' doesn't exist!", '']).message).toBe("m: Database 'x.sqlite' doesn't exist!");
    expect(translateRpcError('m', ['database is locked', '']).type).toBe('Transient');
    expect(translateRpcError('m', ['TypeError: boom', 'Traceback…']).type).toBe('Transient');
  });

  test('long messages are clipped to one line', () => {
    const e = translateRpcError('m', ['UserError', [`line1\n${'x'.repeat(800)}`, 'more', null]]);
    expect(e.message.length).toBeLessThanOrEqual(501);
    expect(e.message).not.toContain('\n');
  });

  test('HTTP statuses', () => {
    expect(translateHttpStatus('m', 401, null).type).toBe('AuthError');
    expect(translateHttpStatus('m', 403, null).type).toBe('AuthError');
    expect(translateHttpStatus('m', 429, '7')).toMatchObject({ type: 'RateLimited', retryAfterMs: 7000 });
    expect(translateHttpStatus('m', 429, null)).toMatchObject({ type: 'RateLimited', retryAfterMs: 60000 });
    expect(translateHttpStatus('m', 423, null).type).toBe('Conflict');
    expect(translateHttpStatus('m', 502, null)).toMatchObject({ type: 'Transient', details: { status: 502 } });
  });

  test('network failures are Transient and carry only the error code', () => {
    const e = translateNetworkError('m', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    expect(plain(e)).toEqual({ type: 'Transient', message: 'Tryton unreachable during m (ECONNREFUSED)', field: undefined });
    expect(translateNetworkError('m', Object.assign(new Error('t'), { name: 'TimeoutError' })).details).toMatchObject({ code: 'TIMEOUT' });
  });

  test('fieldFromMessage', () => {
    expect(fieldFromMessage('The value "bogus" for field "Type" in "Contact Mechanism" is not one of the allowed options.')).toEqual({ field: 'Type', model: 'Contact Mechanism' });
    // 8.0 names the record between the field and the model.
    expect(fieldFromMessage('A value is required for field "Name" in record "" of "Product Template".')).toEqual({ field: 'Name', model: 'Product Template' });
    expect(fieldFromMessage('Something else')).toEqual({});
  });
});
