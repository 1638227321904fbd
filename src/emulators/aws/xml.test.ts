import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeXml, members, renderQueryError, renderQueryResponse, renderXmlDocument } from './xml.ts';

describe('XML rendering', () => {
  it('escapes the five XML special characters in text', () => {
    assert.equal(escapeXml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  });

  it('drops characters XML 1.0 cannot carry, keeps tabs, newlines and astral characters', () => {
    assert.equal(escapeXml('a\u0000b\u0008c\td\ne\uD83D\uDE00f\uD800g'), 'abc\td\ne\uD83D\uDE00fg');
  });

  it('renders nested elements in key order, lists as <member>, and leaves out undefined', () => {
    const xml = renderXmlDocument('R', 'urn:x', { A: 'v<1>', B: { C: 2, D: undefined, E: true }, L: members(['x', { Arn: 'y&z' }]), M: members([]) });
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="urn:x"><A>v&lt;1&gt;</A><B><C>2</C><E>true</E></B><L><member>x</member><member><Arn>y&amp;z</Arn></member></L><M></M></R>',
    );
  });

  it('wraps results in <XResponse><XResult> with ResponseMetadata, and omits XResult when there is none', () => {
    assert.equal(
      renderQueryResponse('GetCallerIdentity', 'https://sts.amazonaws.com/doc/2011-06-15/', { Account: '000000000000' }, 'req-1'),
      '<?xml version="1.0" encoding="UTF-8"?>\n<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
    );
    assert.doesNotMatch(renderQueryResponse('DeleteRole', 'urn:iam', undefined, 'r'), /DeleteRoleResult/);
  });

  it('renders AWS error envelopes with an escaped message', () => {
    assert.equal(
      renderQueryError('urn:iam', { type: 'Sender', code: 'NoSuchEntity', message: `role "a<b>" & 'c'` }, 'r-2'),
      '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="urn:iam"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>role &quot;a&lt;b&gt;&quot; &amp; &apos;c&apos;</Message></Error><RequestId>r-2</RequestId></ErrorResponse>',
    );
  });
});
