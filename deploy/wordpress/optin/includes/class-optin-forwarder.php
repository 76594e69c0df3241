<?php
/**
 * Signs and sends submissions to the optin service's hook endpoint.
 *
 * This file defines a class only, so it can be loaded without WordPress (the test harness does).
 * At run time it calls wp_remote_post(), wp_remote_retrieve_response_code(),
 * wp_remote_retrieve_body() and is_wp_error().
 *
 * @package Optin
 */

if ( ! class_exists( 'Optin_Forwarder' ) ) {

	/**
	 * One service endpoint: `POST {service_url}/v1/hooks/{form_id}` signed with the hook secret.
	 */
	class Optin_Forwarder {

		/**
		 * The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
		 */
		const SIGNATURE_HEADER = 'Optin-Signature';

		/**
		 * Seconds to wait for the service while the visitor waits for the form's answer.
		 */
		const DEFAULT_TIMEOUT = 3;

		/**
		 * Base URL of the optin service, e.g. https://signup.example.com.
		 *
		 * @var string
		 */
		private $service_url;

		/**
		 * The form's id on the service.
		 *
		 * @var string
		 */
		private $form_id;

		/**
		 * The form's hook secret.
		 *
		 * @var string
		 */
		private $secret;

		/**
		 * Request timeout in seconds.
		 *
		 * @var float
		 */
		private $timeout;

		/**
		 * Constructor.
		 *
		 * @param string $service_url Base URL of the service.
		 * @param string $form_id     Form id on the service.
		 * @param string $secret      The form's hook secret.
		 * @param float  $timeout     Request timeout in seconds.
		 */
		public function __construct( $service_url, $form_id, $secret, $timeout = self::DEFAULT_TIMEOUT ) {
			$this->service_url = rtrim( (string) $service_url, '/' );
			$this->form_id     = (string) $form_id;
			$this->secret      = (string) $secret;
			$this->timeout     = (float) $timeout;
		}

		/**
		 * Whether the service URL, form id and secret are all set.
		 *
		 * @return bool
		 */
		public function is_configured() {
			return '' !== $this->service_url && '' !== $this->form_id && '' !== $this->secret;
		}

		/**
		 * The hook endpoint's URL.
		 *
		 * @return string
		 */
		public function hook_url() {
			return $this->service_url . '/v1/hooks/' . rawurlencode( $this->form_id );
		}

		/**
		 * The signature header value for a body (Stripe's scheme).
		 *
		 * @param string $secret    The hook secret.
		 * @param int    $timestamp Unix seconds.
		 * @param string $body      The exact bytes sent.
		 * @return string
		 */
		public static function sign( $secret, $timestamp, $body ) {
			$timestamp = (int) $timestamp;
			return 't=' . $timestamp . ',v1=' . hash_hmac( 'sha256', $timestamp . '.' . $body, (string) $secret );
		}

		/**
		 * The envelope the service expects from this plugin.
		 *
		 * @param string $submission_id Contact Form 7's posted_data_hash.
		 * @param array  $fields        The posted data.
		 * @param array  $meta          Keys ip, user_agent, page_url, and consent_text (the checkbox's label).
		 * @return array
		 * @throws Exception When no randomness is available (practically never).
		 */
		public static function envelope( $submission_id, array $fields, array $meta ) {
			$about = array(
				'ip'         => isset( $meta['ip'] ) ? (string) $meta['ip'] : '',
				'user_agent' => isset( $meta['user_agent'] ) ? (string) $meta['user_agent'] : '',
				'page_url'   => isset( $meta['page_url'] ) ? (string) $meta['page_url'] : '',
			);
			// The words the visitor ticked: the service records them, with their SHA-256, as the consent given.
			if ( isset( $meta['consent_text'] ) && '' !== (string) $meta['consent_text'] ) {
				$about['consent_text'] = (string) $meta['consent_text'];
			}
			return array(
				'submission_id' => (string) $submission_id,
				// Unique per attempt: two sends of one submission within the same second would otherwise be
				// byte-identical signed requests, which the service refuses as a replay (409). The service
				// deduplicates on submission_id.
				'request_id'    => bin2hex( random_bytes( 8 ) ),
				'fields'        => (object) $fields,
				'meta'          => $about,
			);
		}

		/**
		 * Send a payload, signed with the current time (so every retry carries a fresh signature).
		 *
		 * @param array $payload Data to send as JSON.
		 * @return array Keys: ok (bool), retry (bool), code (int, 0 when there was no answer),
		 *               data (decoded answer or null), message (what happened, in words).
		 */
		public function send( array $payload ) {
			if ( ! $this->is_configured() ) {
				return self::result( false, false, 0, null, 'the plugin is not configured: set the service URL, form id and hook secret' );
			}
			$body = function_exists( 'wp_json_encode' ) ? wp_json_encode( $payload ) : json_encode( $payload );
			if ( false === $body ) {
				return self::result( false, false, 0, null, 'the submission could not be encoded as JSON' );
			}
			$response = wp_remote_post(
				$this->hook_url(),
				array(
					'timeout'     => $this->timeout,
					'redirection' => 0,
					'headers'     => array(
						'Content-Type'         => 'application/json',
						self::SIGNATURE_HEADER => self::sign( $this->secret, time(), $body ),
					),
					'body'        => $body,
				)
			);
			if ( is_wp_error( $response ) ) {
				return self::result( false, true, 0, null, 'the service could not be reached: ' . $response->get_error_message() );
			}
			$code = (int) wp_remote_retrieve_response_code( $response );
			$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
			$data = is_array( $data ) ? $data : null;
			return self::describe( $code, $data );
		}

		/**
		 * Forward one submission.
		 *
		 * @param string $submission_id Contact Form 7's posted_data_hash.
		 * @param array  $fields        The posted data.
		 * @param array  $meta          Keys ip, user_agent, page_url.
		 * @return array See send().
		 */
		public function forward( $submission_id, array $fields, array $meta ) {
			return $this->send( self::envelope( $submission_id, $fields, $meta ) );
		}

		/**
		 * Ask the service whether the URL, form id and secret work (a signed ping).
		 *
		 * @return array See send().
		 */
		public function ping() {
			return $this->send( array( 'type' => 'ping' ) );
		}

		/**
		 * Turn the service's answer into a result, with what happened in words.
		 *
		 * @param int        $code HTTP status.
		 * @param array|null $data The decoded JSON answer.
		 * @return array See send().
		 */
		public static function describe( $code, $data ) {
			$said = ( is_array( $data ) && isset( $data['error'] ) && is_string( $data['error'] ) ) ? $data['error'] : '';
			$said = '' !== $said ? ': ' . $said : '';
			if ( 200 === $code && is_array( $data ) && isset( $data['status'] ) && 'ok' === $data['status'] ) {
				$message = isset( $data['message'] ) && is_string( $data['message'] ) ? $data['message'] : 'the service answered';
				return self::result( true, false, $code, $data, 'Connected: ' . $message . '.' );
			}
			if ( 202 === $code ) {
				$duplicate = is_array( $data ) && ! empty( $data['duplicate'] );
				$message   = $duplicate ? 'the service already had this submission' : 'the service accepted the submission';
				return self::result( true, false, $code, $data, $message );
			}
			// A wrong secret, form id or clock is fixed on the settings page: worth retrying meanwhile.
			if ( 401 === $code ) {
				return self::result( false, true, $code, $data, 'the service refused the signature (check the hook secret and the server clock)' . $said );
			}
			if ( 404 === $code ) {
				return self::result( false, true, $code, $data, 'the service does not know this form or its hook is not enabled (check the form id)' . $said );
			}
			if ( 409 === $code ) {
				return self::result( false, false, $code, $data, 'the service had already received this exact request' . $said );
			}
			if ( 413 === $code ) {
				return self::result( false, false, $code, $data, 'the submission is too large for the service' . $said );
			}
			if ( 422 === $code ) {
				return self::result( false, false, $code, $data, 'the service refused the submission' . $said );
			}
			if ( 408 === $code || 429 === $code || $code >= 500 ) {
				return self::result( false, true, $code, $data, 'the service is unavailable for now (HTTP ' . $code . ')' . $said );
			}
			return self::result( false, false, $code, $data, 'unexpected answer from the service (HTTP ' . $code . ')' . $said );
		}

		/**
		 * Build a result array.
		 *
		 * @param bool       $ok      Whether the service took it.
		 * @param bool       $retry   Whether trying again later may help.
		 * @param int        $code    HTTP status, 0 without an answer.
		 * @param array|null $data    The decoded answer.
		 * @param string     $message What happened, in words.
		 * @return array
		 */
		private static function result( $ok, $retry, $code, $data, $message ) {
			return array(
				'ok'      => $ok,
				'retry'   => $retry,
				'code'    => $code,
				'data'    => $data,
				'message' => $message,
			);
		}
	}
}
